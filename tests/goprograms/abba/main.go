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

//go:noinline
func (a *account) transferTo(b *account, n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	time.Sleep(20 * time.Millisecond) // both transfers hold their first lock by now
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
	go a.transferTo(b, 10)
	go b.transferTo(a, 20)
	time.Sleep(100 * time.Millisecond)
	go a.audit()
	time.Sleep(50 * time.Millisecond)
	pprof.Lookup("goroutine").WriteTo(os.Stdout, 2)
}
