// Command checkbaseline writes two goroutine dumps: one before a piece of work and one after
// it. A pool of workers runs through both (healthy: it was there before); the work leaks two
// goroutines blocked on a channel nobody reads. Usage: checkbaseline BEFORE AFTER
package main

import (
	"os"
	"runtime"
	"time"
)

func dump(path string) {
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	if err := os.WriteFile(path, buf[:n], 0o644); err != nil {
		panic(err)
	}
}

func worker(jobs <-chan int) {
	for range jobs {
	}
}

// notify tells every listener and forgets to wait for any of them to listen.
func notify(listeners int) {
	events := make(chan string)
	for i := 0; i < listeners; i++ {
		go func() {
			events <- "done" // nobody receives: blocked for good
		}()
	}
}

func main() {
	jobs := make(chan int)
	for i := 0; i < 4; i++ {
		go worker(jobs)
	}
	time.Sleep(20 * time.Millisecond)
	dump(os.Args[1])
	notify(2)
	time.Sleep(20 * time.Millisecond)
	dump(os.Args[2])
	close(jobs)
}
