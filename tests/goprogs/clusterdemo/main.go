// Command clusterdemo starts goroutines blocked for known reasons and writes goroutine
// dumps of itself (debug=2, debug=1, debug=0) after each round of spawning.
//
// Every goroutine runs under a pprof label "cause" naming the reason it blocks, so the
// ground truth of a dump is the program's own knowledge, printed in the dump itself.
// Within one cause the stacks vary the way real services vary: recursion depth, middleware
// chains, different callers, different creating goroutines. The test suite also builds a
// second copy of this file with lines inserted at the VARIANT markers, which shifts line
// numbers and renumbers closures, as a new build of the same service would.
package main

// VARIANT-DRIFT

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"time"
)

var ready sync.WaitGroup

// labelled runs f in a new goroutine carrying the label cause=name.
func labelled(name string, f func()) {
	ready.Add(1)
	pprof.Do(context.Background(), pprof.Labels("cause", name), func(context.Context) {
		go f()
	})
}

// --- cause "fanout-send": a recursive walk that ends in a send nobody receives ---

type Fanout struct{ out chan int }

func walk(f *Fanout, n, v int) {
	if n == 0 {
		ready.Done()
		f.out <- v // blocks: nobody reads f.out
		return
	}
	walk(f, n-1, v+1)
}

func (f *Fanout) run(depth int) { walk(f, depth, 0) }

// spawnFanouts starts goroutines from its own goroutine, so that their creator ids differ.
func spawnFanouts(f *Fanout, n, round int, done chan<- struct{}) {
	for i := 0; i < n; i++ {
		depth := (i + round) % 5
		labelled("fanout-send", func() { f.run(depth) })
	}
	done <- struct{}{}
}

// --- cause "audit-send": another send, in another function ---

func emitAudit(ch chan string, who string) {
	ready.Done()
	ch <- "audit:" + who // blocks: the audit consumer was never started
}

// --- cause "subscribe-recv": a handler behind middleware chains waits for an event ---

type handler func(ctx context.Context, req int)

func withLogging(h handler) handler {
	return func(ctx context.Context, req int) {
		// VARIANT-CLOSURE
		h(ctx, req)
	}
}

func withAuth(h handler) handler {
	return func(ctx context.Context, req int) {
		if req < 0 {
			return
		}
		h(ctx, req)
	}
}

func withTrace(h handler) handler {
	return func(ctx context.Context, req int) {
		h(ctx, req+0)
	}
}

func handleSubscribe(events chan int) handler {
	return func(ctx context.Context, req int) {
		ready.Done()
		<-events // blocks: nothing is ever published
	}
}

func chain(h handler, k int) handler {
	switch k % 3 {
	case 0:
		return withLogging(h)
	case 1:
		return withLogging(withAuth(h))
	default:
		return withLogging(withAuth(withTrace(h)))
	}
}

// --- cause "pipe-wait": a stage loop that waits in two places ---

func pipeline(in, ack chan int, waitAck bool) {
	ready.Done()
	for {
		if waitAck {
			<-ack // blocks: acknowledgements never come
			continue
		}
		<-in // blocks: the input is never fed
	}
}

// --- cause "cache-lock": waiters on a mutex held by "cache-holder", from two callers ---

type Cache struct {
	mu     sync.Mutex
	reload chan struct{}
	data   map[string]string
}

func (c *Cache) refresh(locked chan<- struct{}) {
	c.mu.Lock()
	locked <- struct{}{}
	ready.Done()
	<-c.reload // blocks while holding c.mu
	c.mu.Unlock()
}

func (c *Cache) Get(k string) string {
	ready.Done()
	c.mu.Lock() // blocks: refresh holds the lock
	defer c.mu.Unlock()
	return c.data[k]
}

func apiGet(c *Cache, k string) string { return c.Get(k) }

func batchGet(c *Cache, ks []string) []string {
	out := make([]string, 0, len(ks))
	for _, k := range ks {
		out = append(out, c.Get(k))
	}
	return out
}

// --- cause "config-lock": waiters on another mutex, which main never unlocks ---

type Config struct {
	mu   sync.Mutex
	vals map[string]string
}

func (c *Config) Reload(key string) {
	ready.Done()
	c.mu.Lock() // blocks: main took the lock and forgot it
	c.vals[key] = "reloaded"
	c.mu.Unlock()
}

// --- cause "retry-backoff": a retry loop with no way out, asleep between tries ---

func retryForever(try func() error) {
	ready.Done()
	for try() != nil {
		time.Sleep(time.Hour) // blocks: backing off before the next try
	}
}

// --- benign: a worker pool waiting for jobs, and a polling loop ---

type Pool struct {
	jobs chan func()
	quit chan struct{}
}

func (p *Pool) worker() {
	ready.Done()
	for {
		select { // blocks: waiting for a job or quit
		case j := <-p.jobs:
			j()
		case <-p.quit:
			return
		}
	}
}

func pollLoop(every time.Duration) {
	ready.Done()
	for {
		time.Sleep(every) // blocks: between polls
	}
}

// --- dumps ---

func settle() {
	ready.Wait()
	// A goroutine that has called ready.Done is about to park: wait until none is runnable.
	for i := 0; i < 500; i++ {
		var b strings.Builder
		pprof.Lookup("goroutine").WriteTo(&b, 2)
		if !strings.Contains(b.String(), "[runnable") {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func dump(dir string, round int) {
	settle()
	for _, debug := range []int{2, 1, 0} {
		name := fmt.Sprintf("round%d-debug%d.txt", round, debug)
		if debug == 0 {
			name = fmt.Sprintf("round%d-debug0.pb.gz", round)
		}
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		pprof.Lookup("goroutine").WriteTo(f, debug)
		f.Close()
	}
}

func main() {
	out := flag.String("out", ".", "directory for the dumps")
	rounds := flag.Int("rounds", 3, "rounds of spawning, one set of dumps after each")
	scale := flag.Int("scale", 1, "goroutines per cause and round, multiplied")
	flag.Parse()

	fan := &Fanout{out: make(chan int)}
	audit := make(chan string)
	events := make(chan int)
	in, ack := make(chan int), make(chan int)
	cache := &Cache{reload: make(chan struct{}), data: map[string]string{}}
	pool := &Pool{jobs: make(chan func()), quit: make(chan struct{})}

	cfg := &Config{vals: map[string]string{}}
	cfg.mu.Lock()
	locked := make(chan struct{})
	labelled("cache-holder", func() { cache.refresh(locked) })
	<-locked
	for i := 0; i < 4; i++ {
		labelled("pool-idle", pool.worker)
	}
	labelled("poll-loop", func() { pollLoop(time.Hour) })

	for round := 0; round < *rounds; round++ {
		n := (round + 1) * *scale
		// fanouts come from two spawning goroutines: "created by ... in goroutine N" differs
		done := make(chan struct{})
		go spawnFanouts(fan, 3*n, round, done)
		go spawnFanouts(fan, 2*n, round+2, done)
		<-done
		<-done
		for i := 0; i < 2*n; i++ {
			labelled("audit-send", func() { emitAudit(audit, "user") })
		}
		for i := 0; i < 3*n; i++ {
			h := chain(handleSubscribe(events), i)
			labelled("subscribe-recv", func() { h(context.Background(), i) })
		}
		for i := 0; i < 2*n; i++ {
			labelled("pipe-wait", func() { pipeline(in, ack, false) })
			labelled("pipe-wait", func() { pipeline(in, ack, true) })
		}
		for i := 0; i < n; i++ {
			labelled("cache-lock", func() { apiGet(cache, "k") })
			labelled("cache-lock", func() { batchGet(cache, []string{"a", "b"}) })
		}
		for i := 0; i < n; i++ {
			labelled("config-lock", func() { cfg.Reload("k") })
			labelled("retry-backoff", func() { retryForever(func() error { return fmt.Errorf("down") }) })
		}
		dump(*out, round)
	}
}
