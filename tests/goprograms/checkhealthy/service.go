// Package checkhealthy starts goroutines and always stops them: the control that must pass.
package checkhealthy

import (
	"context"
	"sync"
	"time"
)

// Worker counts ticks until its context is cancelled.
type Worker struct {
	wg    sync.WaitGroup
	mu    sync.Mutex
	ticks int
}

// Start runs the worker until ctx is done; Wait waits for it to return.
func (w *Worker) Start(ctx context.Context, every time.Duration) {
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				w.mu.Lock()
				w.ticks++
				w.mu.Unlock()
			}
		}
	}()
}

// Wait blocks until the worker has returned.
func (w *Worker) Wait() { w.wg.Wait() }

// Map applies f to every element with one goroutine each and collects the results in order.
func Map(xs []int, f func(int) int) []int {
	out := make([]int, len(xs))
	var wg sync.WaitGroup
	for i, x := range xs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = f(x)
		}()
	}
	wg.Wait()
	return out
}
