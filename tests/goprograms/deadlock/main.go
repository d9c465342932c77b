// Command deadlock ends in the runtime's own deadlock detector: two goroutines take two
// mutexes in opposite orders (AB-BA) while main waits for both on a WaitGroup, so that
// every goroutine is blocked and the runtime prints "all goroutines are asleep".
package main

import (
	"fmt"
	"os"
	"sync"
)

type account struct {
	mu      sync.Mutex
	balance int
}

// transfer locks from, then to: two transfers in opposite directions deadlock.
func transfer(from, to *account, n int, locked, other chan struct{}) {
	from.mu.Lock()
	defer from.mu.Unlock()
	close(locked)
	<-other // both first locks are held before either second lock is tried
	to.mu.Lock()
	defer to.mu.Unlock()
	from.balance -= n
	to.balance += n
}

func main() {
	a, b := &account{balance: 100}, &account{balance: 100}
	aLocked, bLocked := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); transfer(a, b, 10, aLocked, bLocked) }()
	go func() { defer wg.Done(); transfer(b, a, 20, bLocked, aLocked) }()
	fmt.Fprintln(os.Stderr, "transfers started")
	wg.Wait()
}
