// abba: two transfers lock two accounts in opposite orders and deadlock (AB-BA),
// while a third goroutine waits for one of the locks. The dump goes to stdout.
package main

import (
	"os"
	"runtime/pprof"
	"sync"
	"time"
)

type account struct {
	mu      sync.Mutex
	balance int
}

// firstHeld: each transfer waits until both hold their first lock (a sleep could lose that
// race on a loaded machine, and the transfers would not deadlock)
var firstHeld sync.WaitGroup

//go:noinline
func (a *account) transferTo(b *account, n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	firstHeld.Done()
	firstHeld.Wait()
	b.mu.Lock()
	defer b.mu.Unlock()
	a.balance -= n
	b.balance += n
}

//go:noinline
func (a *account) audit() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.balance
}

func main() {
	a, b := &account{balance: 100}, &account{balance: 100}
	firstHeld.Add(2)
	go a.transferTo(b, 10)
	go b.transferTo(a, 20)
	time.Sleep(100 * time.Millisecond)
	go a.audit()
	time.Sleep(50 * time.Millisecond)
	pprof.Lookup("goroutine").WriteTo(os.Stdout, 2)
}
