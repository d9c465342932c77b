// leakseries: a small service that leaks in two ways while healthy goroutines stay flat or
// drain; it records its own series of debug=2 dumps with a capture manifest.
//
//	leakseries OUTDIR [SNAPSHOTS] [INTERVAL]
//
// Causes (the program's own knowledge, for the tests): "result-leak" (fetch's sender blocked
// forever after the caller timed out: grows 12 per tick), "wg-leak" (waitAll missing a Done:
// grows 2 per tick), "pool" (16 workers ranging over a job channel: flat), "burst" (40 sleepers
// started at tick 1, gone by the end).
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"sync"
	"time"
)

type result struct{ v int }

// compute answers only after its caller gave up (a backend slower than the caller's
// timeout, made certain: on a loaded machine a 1ms sleep could beat a 100µs timer).
//
//go:noinline
func compute(i int, out chan<- result, late <-chan struct{}) {
	<-late
	out <- result{i} // nobody receives once fetch gave up
}

//go:noinline
func fetch(i int) (int, error) {
	out, late := make(chan result), make(chan struct{})
	go compute(i, out, late)
	select {
	case r := <-out:
		return r.v, nil
	case <-time.After(100 * time.Microsecond):
		close(late)
		return 0, fmt.Errorf("timeout")
	}
}

//go:noinline
func waitAll(n int) {
	var wg sync.WaitGroup
	wg.Add(n + 1) // one Add too many: Wait never returns
	for i := 0; i < n; i++ {
		go func() { defer wg.Done() }()
	}
	wg.Wait()
}

//go:noinline
func worker(jobs <-chan int, done chan<- int) {
	for j := range jobs {
		done <- j * 2
	}
}

//go:noinline
func sleeper(d time.Duration) { time.Sleep(d) }

type snap struct {
	File    string `json:"file"`
	TakenAt string `json:"taken_at"`
	Round   int    `json:"round"`
}

func main() {
	out := os.Args[1]
	n, interval := 6, 300*time.Millisecond
	if len(os.Args) > 2 {
		n, _ = strconv.Atoi(os.Args[2])
	}
	if len(os.Args) > 3 {
		interval, _ = time.ParseDuration(os.Args[3])
	}
	os.MkdirAll(out, 0o755)
	jobs, done := make(chan int), make(chan int, 1024)
	for i := 0; i < 16; i++ {
		go worker(jobs, done)
	}
	var snaps []snap
	for tick := 0; tick < n; tick++ {
		for i := 0; i < 12; i++ {
			fetch(i)
		}
		go waitAll(1)
		go waitAll(2)
		if tick == 1 {
			for i := 0; i < 40; i++ {
				go sleeper(time.Duration(n-3) * interval)
			}
		}
		time.Sleep(interval / 2)
		name := fmt.Sprintf("snap-%02d.txt", tick)
		f, _ := os.Create(filepath.Join(out, name))
		pprof.Lookup("goroutine").WriteTo(f, 2)
		f.Close()
		snaps = append(snaps, snap{name, time.Now().UTC().Format(time.RFC3339Nano), tick})
		b, _ := json.MarshalIndent(map[string]any{"instance": "leakseries", "snapshots": snaps}, "", " ")
		os.WriteFile(filepath.Join(out, "manifest.json"), b, 0o644)
		time.Sleep(interval / 2)
	}
}
