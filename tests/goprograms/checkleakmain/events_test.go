package checkleakmain

import (
	"fmt"
	"os"
	"testing"

	"goforensics.test/leakcheck"
)

// TestMain checks for leaks once, after every test, as goleak.VerifyTestMain does.
func TestMain(m *testing.M) {
	ignore := leakcheck.CurrentIDs()
	code := m.Run()
	if code == 0 {
		if extra := leakcheck.FindLeaks(ignore); len(extra) > 0 {
			fmt.Fprintf(os.Stderr, "goleak: Errors on successful test run: %v\n",
				fmt.Errorf("found unexpected goroutines:\n%s", extra))
			code = 1
		}
	}
	os.Exit(code)
}

func TestPublish(t *testing.T) {
	var b Bus
	got := make(chan string, 1)
	b.Subscribe(func(e string) { got <- e })
	b.Publish("hello")
	if e := <-got; e != "hello" {
		t.Fatalf("got %q", e)
	}
}

func TestNoSubscribers(t *testing.T) {
	var b Bus
	b.Publish("nobody listens")
}
