// Package checkhang hangs: Process waits for its workers before reading their results,
// and the workers block sending on an unbuffered channel nobody reads yet.
package checkhang

import "sync"

// Process squares every job in parallel.
func Process(jobs []int) []int {
	results := make(chan int)
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		go func(j int) {
			defer wg.Done()
			results <- j * j
		}(j)
	}
	wg.Wait() // the workers are stuck on the send above: this never returns
	close(results)
	var out []int
	for r := range results {
		out = append(out, r)
	}
	return out
}

// Double doubles every job, sequentially.
func Double(jobs []int) []int {
	out := make([]int, len(jobs))
	for i, j := range jobs {
		out[i] = 2 * j
	}
	return out
}
