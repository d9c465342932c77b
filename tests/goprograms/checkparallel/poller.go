// Package checkparallel is healthy: its poller always stops. Its two tests run in parallel,
// which is where a goleak-style check at the end of each test goes wrong (goleak's issues #16
// and #83): the quick test sees the slow test's poller, still running, and fails.
package checkparallel

import "time"

// Poll ticks until stop is closed, then closes done.
func Poll(every time.Duration, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}
