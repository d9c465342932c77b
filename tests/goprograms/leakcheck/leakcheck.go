// Package leakcheck is a small goroutine-leak check in the manner of go.uber.org/goleak
// (VerifyNone with IgnoreCurrent): goleak itself cannot be downloaded where these tests
// run, so this package does what it does with runtime.Stack and prints its report in
// goleak's words ("found unexpected goroutines:", then "[Goroutine N in state S, with F
// on top of the stack:" and the stack), so that goforensics reads it as it reads goleak's.
// The test packages under tests/goprograms take it through a replace directive in their
// go.mod, which builds offline.
package leakcheck

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Goroutine is one goroutine of a leak report.
type Goroutine struct {
	id    string
	state string
	top   string
	body  string // the stack without its header line, as goleak keeps it
}

func (g Goroutine) String() string {
	return fmt.Sprintf("Goroutine %s in state %s, with %s on top of the stack:\n%s", g.id, g.state, g.top, g.body)
}

func allGoroutines() []Goroutine {
	buf := make([]byte, 1<<16)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []Goroutine
	for _, block := range strings.Split(strings.TrimSpace(string(buf)), "\n\n") {
		header, body, _ := strings.Cut(block, "\n")
		// goroutine 7 [chan send]:
		fields := strings.SplitN(strings.TrimSuffix(header, ":"), " ", 3)
		if len(fields) != 3 {
			continue
		}
		top, _, _ := strings.Cut(body, "\n")
		if i := strings.LastIndexByte(top, '('); i >= 0 {
			top = top[:i]
		}
		// goleak's stack ends at the "created by" line and its file line: ancestors that
		// GODEBUG=tracebackancestors adds after them are not part of its report
		if i := strings.Index(body, "\ncreated by "); i >= 0 {
			rest := body[i+1:]
			if j := strings.Index(rest, "\n[originating from goroutine"); j >= 0 {
				body = body[:i+1+j]
			}
		}
		out = append(out, Goroutine{fields[1], strings.Trim(fields[2], "[]"), top, body + "\n"})
	}
	return out
}

// runnerStack: the testing package's own goroutines waiting for tests (goleak's isTestStack).
func runnerStack(g Goroutine) bool {
	switch g.top {
	case "testing.RunTests", "testing.(*T).Run", "testing.(*T).Parallel", "testing.runTests":
		return strings.HasPrefix(g.state, "chan receive")
	}
	return false
}

// stdlibStack: goroutines the standard library starts once and keeps (goleak's isStdLibStack).
func stdlibStack(g Goroutine) bool {
	return g.top == "os/signal.signal_recv" || g.top == "os/signal.loop" ||
		strings.Contains(g.body, "runtime.ensureSigM(")
}

// CurrentIDs returns the ids of the goroutines running now (goleak's IgnoreCurrent).
func CurrentIDs() map[string]bool {
	ids := map[string]bool{}
	for _, g := range allGoroutines() {
		ids[g.id] = true
	}
	return ids
}

// FindLeaks returns the goroutines not in ignore that remain; it retries with a growing sleep while goroutines are still winding down, as goleak does.
func FindLeaks(ignore map[string]bool) []Goroutine {
	var extra []Goroutine
	for attempt := 0; attempt < 20; attempt++ {
		extra = extra[:0]
		self := allGoroutines()[0].id // runtime.Stack(all) lists the calling goroutine first
		for _, g := range allGoroutines() {
			if g.id != self && !ignore[g.id] && !runnerStack(g) && !stdlibStack(g) {
				extra = append(extra, g)
			}
		}
		if len(extra) == 0 {
			return nil
		}
		d := time.Microsecond << attempt
		if d > 100*time.Millisecond {
			d = 100 * time.Millisecond
		}
		time.Sleep(d)
	}
	return extra
}

// VerifyNone fails t if goroutines that were not there when ignore was taken remain.
func VerifyNone(t *testing.T, ignore map[string]bool) {
	t.Helper()
	if extra := FindLeaks(ignore); len(extra) > 0 {
		t.Error(fmt.Errorf("found unexpected goroutines:\n%s", extra))
	}
}
