// Command calibration writes a goroutine dump of healthy shapes, or crashes mid-flight.
//
//	calibration healthy   a worker pool ranging over its jobs channel (fed every 5ms, its
//	                      creator returned), a ticker loop, an HTTP-free idle service; dump
//	                      (debug=2) on stdout
//	calibration panic     the same, plus goroutines mid-flight in WaitGroup.Wait, then a
//	                      goroutine panics (exit status 2, the dump on stderr)
package main

import (
	"os"
	"runtime/debug"
	"runtime/pprof"
	"sync"
	"time"
)

var processed int

func startPool(jobs chan int, n int) {
	for i := 0; i < n; i++ {
		go worker(jobs)
	}
}

func worker(jobs chan int) {
	for j := range jobs {
		processed += j
	}
}

func feed(jobs chan int) {
	for {
		jobs <- 1
		time.Sleep(5 * time.Millisecond)
	}
}

func reconcile() {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for range t.C {
		processed++
	}
}

func batch(wg *sync.WaitGroup) {
	defer wg.Done()
	time.Sleep(10 * time.Second)
}

func fanOut() {
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go batch(&wg)
	}
	wg.Wait()
}

func explode() {
	time.Sleep(300 * time.Millisecond)
	var m map[string]int
	m["boom"] = 1 // panics: assignment to entry in nil map
}

func main() {
	jobs := make(chan int)
	startPool(jobs, 6)
	go feed(jobs)
	go reconcile()
	if len(os.Args) > 1 && os.Args[1] == "panic" {
		debug.SetTraceback("all") // print every goroutine, as GOTRACEBACK=all does
		for i := 0; i < 4; i++ {
			go fanOut()
		}
		go explode()
		time.Sleep(5 * time.Second)
		return
	}
	time.Sleep(300 * time.Millisecond)
	pprof.Lookup("goroutine").WriteTo(os.Stdout, 2)
}
