package checkparallel

import (
	"testing"
	"time"

	"goforensics.test/leakcheck"
)

func TestSlowPoller(t *testing.T) {
	t.Parallel()
	ignore := leakcheck.CurrentIDs()
	time.Sleep(20 * time.Millisecond) // start after the other test has taken its snapshot
	stop, done := make(chan struct{}), make(chan struct{})
	go Poll(time.Millisecond, stop, done) // the test starts it, as tests start servers
	time.Sleep(2 * time.Second)           // outlives the other test's retries
	close(stop)
	<-done
	leakcheck.VerifyNone(t, ignore)
}

func TestQuick(t *testing.T) {
	t.Parallel()
	ignore := leakcheck.CurrentIDs()
	time.Sleep(100 * time.Millisecond)
	leakcheck.VerifyNone(t, ignore) // sees TestSlowPoller's poller, still running
}
