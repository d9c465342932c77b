// pprofserver is the live service the capture tests poll: net/http/pprof on
// 127.0.0.1:0, plus endpoints that fail the ways real services fail.
//
// It prints "listening on http://ADDR" on its first line of stdout. Each request
// to /debug/pprof/goroutine first parks -grow more goroutines in main.parked, so
// snapshot k of a series (counted from 1) holds exactly k*grow of them.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

var (
	grow   = flag.Int("grow", 3, "goroutines parked before each goroutine dump")
	parked atomic.Int64
	block  = make(chan struct{})
)

// parkedGoroutine blocks forever: the goroutines the tests count.
func parkedGoroutine(ready *sync.WaitGroup) {
	parked.Add(1)
	ready.Done()
	<-block
}

func main() {
	flag.Parse()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pprofGoroutine := pprof.Handler("goroutine") // reads ?debug= itself
	mux := http.NewServeMux()

	// The real profile, after parking -grow more goroutines (and waiting until they are parked).
	mux.HandleFunc("/debug/pprof/goroutine", func(w http.ResponseWriter, r *http.Request) {
		var ready sync.WaitGroup
		for i := 0; i < *grow; i++ {
			ready.Add(1)
			go parkedGoroutine(&ready)
		}
		ready.Wait() // they may still be runnable, but they are in main.parkedGoroutine
		w.Header().Set("X-Parked", strconv.FormatInt(parked.Load(), 10))
		pprofGoroutine.ServeHTTP(w, r)
	})
	mux.Handle("/debug/pprof/", http.DefaultServeMux) // the other profiles, registered by net/http/pprof

	// An HTML page with status 200 where a dump should be.
	mux.HandleFunc("/html/debug/pprof/goroutine", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintln(w, "<!DOCTYPE html>\n<html><head><title>Login</title></head><body>Please sign in.</body></html>")
	})
	// A server error, always.
	mux.HandleFunc("/fail/debug/pprof/goroutine", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "internal error: profiler disabled", http.StatusInternalServerError)
	})
	// A server error the first two times, then the real profile.
	var flakyCalls atomic.Int64
	mux.HandleFunc("/flaky/debug/pprof/goroutine", func(w http.ResponseWriter, r *http.Request) {
		if n := flakyCalls.Add(1); n <= 2 {
			http.Error(w, "service unavailable", http.StatusServiceUnavailable)
			return
		}
		pprofGoroutine.ServeHTTP(w, r)
	})
	// An endpoint that answers only after ?delay (default 5s).
	mux.HandleFunc("/slow/debug/pprof/goroutine", func(w http.ResponseWriter, r *http.Request) {
		d, err := time.ParseDuration(r.URL.Query().Get("delay"))
		if err != nil {
			d = 5 * time.Second
		}
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
		pprofGoroutine.ServeHTTP(w, r)
	})
	fmt.Printf("listening on http://%s\n", ln.Addr())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
