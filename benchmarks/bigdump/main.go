// Command bigdump starts a large, realistic population of parked goroutines and
// writes a debug=2 dump of all of them with runtime.Stack.
//
// pprof's debug=2 output stops at 64 MiB, so the dump is taken with runtime.Stack
// and a buffer grown until it holds everything. The goroutines follow about thirty
// code paths (servers, worker pools, pipelines, caches, retry loops, generic queues)
// at varying recursion depths, some with pprof labels, in several wait states.
//
// Usage: bigdump -n 200000 -o dump.txt [-p1 profile.txt]   (writes dump.txt and dump.txt.json)
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"
)

var (
	block    = make(chan struct{}) // never closed: everything parks on it or on a lock
	release  = make(chan int)      // never sent to
	sink     = make(chan int)      // unbuffered, never read: senders park
	started  sync.WaitGroup
	bigMu    sync.Mutex   // held forever by one goroutine
	bigRW    sync.RWMutex // write-locked forever: readers park in RLock
	neverWG  sync.WaitGroup
	condMu   sync.Mutex
	cond     = sync.NewCond(&condMu)
	pipeRead *os.File
)

// --- a server with connection handlers ---------------------------------------

type Server struct{ name string }

type conn struct {
	id  int
	srv *Server
}

func (s *Server) Serve(id int, depth int) {
	c := &conn{id: id, srv: s}
	c.serve(depth)
}

func (c *conn) serve(depth int) {
	if depth > 0 {
		c.serve(depth - 1)
		return
	}
	c.readRequest()
}

//go:noinline
func (c *conn) readRequest() {
	started.Done()
	<-block
}

// --- a worker pool -------------------------------------------------------------

type Pool struct {
	jobs chan func()
	quit chan struct{}
}

func (p *Pool) worker(id int) {
	started.Done()
	for {
		select {
		case j := <-p.jobs:
			j()
		case <-p.quit:
			return
		}
	}
}

// --- a pipeline of stages with closures ------------------------------------------

func pipeline(stage int, mode int) {
	run := func() {
		func() {
			switch mode {
			case 0:
				started.Done()
				sink <- stage
			case 1:
				started.Done()
				v := <-release
				_ = v
			default:
				started.Done()
				select {
				case <-block:
				case v := <-release:
					_ = v
				}
			}
		}()
	}
	run()
}

// --- a cache behind a mutex held forever ------------------------------------------

type Cache struct{ mu *sync.Mutex }

//go:noinline
func (c *Cache) Get(key string) string {
	started.Done()
	c.mu.Lock()
	defer c.mu.Unlock()
	return key
}

type Registry struct{ rw *sync.RWMutex }

//go:noinline
func (r *Registry) Lookup(name string, depth int) int {
	if depth > 0 {
		return r.Lookup(name, depth-1) + 1
	}
	started.Done()
	r.rw.RLock()
	defer r.rw.RUnlock()
	return len(name)
}

// --- a generic queue waiting on a condition variable --------------------------------

type Queue[T any] struct {
	items []T
}

//go:noinline
func (q *Queue[T]) Pop() T {
	condMu.Lock()
	started.Done()
	for len(q.items) == 0 {
		cond.Wait()
	}
	it := q.items[0]
	condMu.Unlock()
	return it
}

// --- retry loops, tickers, group waits ----------------------------------------------

//go:noinline
func retryLoop(ctx context.Context, attempt int) {
	started.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Hour):
		}
	}
}

//go:noinline
func backoff(d time.Duration) {
	started.Done()
	time.Sleep(d)
}

//go:noinline
func waitAll() {
	started.Done()
	neverWG.Wait()
}

//go:noinline
func forever() {
	started.Done()
	select {}
}

//go:noinline
func nilRecv() {
	var c chan int
	started.Done()
	<-c
}

//go:noinline
func readPipe(buf []byte) {
	started.Done()
	_, _ = pipeRead.Read(buf)
}

// recurse adds depth above a parking function: stacks of one path differ in depth.
func recurse(depth int, f func()) {
	if depth == 0 {
		f()
		return
	}
	recurse(depth-1, f)
}

type path struct {
	name   string
	weight int // goroutines per 1000
	labels bool
	run    func(i int)
}

func main() {
	n := flag.Int("n", 200000, "goroutines to start")
	out := flag.String("o", "dump.txt", "output file")
	profile1 := flag.String("p1", "", "also write a debug=1 goroutine profile of the same moment here")
	wait := flag.Bool("wait", false, "then print 'ready' and wait (for a SIGQUIT: a crash dump)")
	flag.Parse()

	bigMu.Lock()
	bigRW.Lock()
	neverWG.Add(1)
	r, w, err := os.Pipe()
	if err != nil {
		panic(err)
	}
	pipeRead = r
	defer w.Close()

	srvA, srvB := &Server{"api"}, &Server{"admin"}
	pool := &Pool{jobs: make(chan func()), quit: make(chan struct{})}
	cache := &Cache{mu: &bigMu}
	reg := &Registry{rw: &bigRW}
	qi, qs := &Queue[int]{}, &Queue[string]{}
	ctx := context.Background()

	paths := []path{
		{"conn-shallow", 180, true, func(i int) { srvA.Serve(i, 0) }},
		{"conn-3", 60, true, func(i int) { srvA.Serve(i, 3) }},
		{"conn-7", 30, true, func(i int) { srvB.Serve(i, 7) }},
		{"conn-15", 10, false, func(i int) { srvB.Serve(i, 15) }},
		{"pool-worker", 150, false, func(i int) { pool.worker(i) }},
		{"pool-worker-deep", 30, true, func(i int) { recurse(4, func() { pool.worker(i) }) }},
		{"pipeline-send", 90, false, func(i int) { pipeline(i, 0) }},
		{"pipeline-recv", 40, true, func(i int) { pipeline(i, 1) }},
		{"pipeline-select", 40, false, func(i int) { pipeline(i, 2) }},
		{"pipeline-send-deep", 15, false, func(i int) { recurse(9, func() { pipeline(i, 0) }) }},
		{"cache-get", 60, true, func(i int) { cache.Get(fmt.Sprint("k", i%97)) }},
		{"cache-get-deep", 10, false, func(i int) { recurse(2, func() { cache.Get("k") }) }},
		{"registry-1", 30, false, func(i int) { reg.Lookup("svc", 1) }},
		{"registry-5", 15, true, func(i int) { reg.Lookup("svc", 5) }},
		{"queue-int", 25, false, func(i int) { qi.Pop() }},
		{"queue-string", 20, true, func(i int) { qs.Pop() }},
		{"retry", 40, true, func(i int) { retryLoop(ctx, i) }},
		{"retry-deep", 10, false, func(i int) { recurse(12, func() { retryLoop(ctx, i) }) }},
		{"backoff", 35, false, func(i int) { backoff(time.Hour) }},
		{"backoff-labels", 15, true, func(i int) { backoff(2 * time.Hour) }},
		{"waitgroup", 25, false, func(i int) { waitAll() }},
		{"waitgroup-deep", 5, false, func(i int) { recurse(20, waitAll) }},
		{"forever", 10, false, func(i int) { forever() }},
		{"nil-recv", 5, false, func(i int) { nilRecv() }},
		{"conn-25", 5, false, func(i int) { srvA.Serve(i, 25) }},
		{"recurse-40", 5, false, func(i int) { recurse(40, forever) }},
		{"pool-worker-gowrap", 20, false, nil},
		{"pipeline-recv-deep", 15, true, func(i int) { recurse(6, func() { pipeline(i, 1) }) }},
		{"cache-get-labels-deep", 10, true, func(i int) { recurse(3, func() { cache.Get("z") }) }},
		{"backoff-deep", 5, false, func(i int) { recurse(8, func() { backoff(time.Hour) }) }},
	}
	const pipes = 64 // goroutines in IO wait: one pipe read each is enough, fds are few
	total := 0
	for _, p := range paths {
		total += p.weight
	}
	started.Add(pipes)
	for i := 0; i < pipes; i++ {
		go readPipe(make([]byte, 16))
	}
	launched := pipes
	for k, p := range paths {
		count := (*n - pipes) * p.weight / total
		if k == len(paths)-1 {
			count = *n - launched
		}
		started.Add(count)
		launched += count
		for i := 0; i < count; i++ {
			i, p := i, p
			switch {
			case p.run == nil: // a go statement on a method value: a gowrap closure
				go pool.worker(i)
			case p.labels:
				go func() {
					lbl := pprof.Labels("path", p.name, "tenant", fmt.Sprintf("t-%d", i%7), "req id", fmt.Sprint(i%3))
					pprof.Do(ctx, lbl, func(context.Context) { p.run(i) })
				}()
			default:
				go p.run(i)
			}
		}
	}
	started.Wait()
	time.Sleep(200 * time.Millisecond) // let the last ones park

	buf := make([]byte, 64<<20)
	for {
		m := runtime.Stack(buf, true)
		if m < len(buf) {
			buf = buf[:m]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	if err := os.WriteFile(*out, buf, 0o644); err != nil {
		panic(err)
	}
	if *profile1 != "" {
		f, err := os.Create(*profile1)
		if err != nil {
			panic(err)
		}
		if err := pprof.Lookup("goroutine").WriteTo(f, 1); err != nil {
			panic(err)
		}
		f.Close()
	}
	meta, _ := json.Marshal(map[string]any{
		"goroutines_started": launched,
		"num_goroutine":      runtime.NumGoroutine(),
		"bytes":              len(buf),
		"go":                 runtime.Version(),
	})
	if err := os.WriteFile(*out+".json", meta, 0o644); err != nil {
		panic(err)
	}
	fmt.Println(string(meta))
	if *wait {
		fmt.Println("ready")
		<-block
	}
}
