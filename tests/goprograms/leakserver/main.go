// leakserver is a live service that leaks the two ways production services do, beside a
// healthy worker pool, for the capture tests that read every form of its profiles.
//
// It prints "listening on http://ADDR" on its first line of stdout. Before answering each
// request for /debug/pprof/goroutine?debug=2 (the first dump of a capture round) it starts:
//
//   - 4 goroutines in main.fetch's sender (main.sendResult), each blocked sending on a
//     channel that only it still references: a leak the runtime's goroutineleak profile
//     proves (the GC finds the channel unreachable) and marks "(leaked)";
//   - 2 goroutines in main.waitForever, blocked receiving from a channel a global holds:
//     a leak no GC can prove (the goroutineleak profile does not mark them).
//
// 8 workers (main.worker) range over a global job channel from the start: healthy, flat.
package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"
)

var (
	jobs    = make(chan int)
	forever = make(chan struct{})
)

type result struct{ v int }

//go:noinline
func sendResult(out chan<- result, v int) {
	out <- result{v} // nobody receives: fetch gave up and dropped the channel
}

//go:noinline
func fetch(v int) {
	out := make(chan result)
	go sendResult(out, v)
	// the caller "times out" at once and forgets out
}

//go:noinline
func waitForever() { <-forever }

//go:noinline
func worker(id int) {
	for j := range jobs {
		_ = j * id
	}
}

var (
	mu      sync.Mutex // one round's goroutines at a time
	started int        // senders started so far
)

// blocked counts the goroutines in state whose stack calls fn, from the runtime's own dump.
func blocked(state, fn string) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(strings.SplitN(g, "\n", 2)[0], state) && strings.Contains(g, fn) {
			count++
		}
	}
	return count
}

func main() {
	for i := 0; i < 8; i++ {
		go worker(i)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	goroutine := pprof.Handler("goroutine")
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/goroutine", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("debug") == "2" {
			mu.Lock()
			defer mu.Unlock()
			for i := 0; i < 4; i++ {
				fetch(i)
			}
			go waitForever()
			go waitForever()
			started += 4
			// so that the dump shows them blocked (not runnable, not yet started): wait until
			// the runtime's own stacks say so
			for blocked("[chan send", "main.sendResult(") < started ||
				blocked("[chan receive", "main.waitForever(") < started/2 {
				time.Sleep(time.Millisecond)
			}
		}
		goroutine.ServeHTTP(w, r)
	})
	mux.Handle("/debug/pprof/", http.DefaultServeMux) // goroutineleak and the others
	fmt.Printf("listening on http://%s\n", ln.Addr())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
