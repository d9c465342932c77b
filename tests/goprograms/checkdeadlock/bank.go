// Package checkdeadlock deadlocks: Transfer locks the two accounts in argument order, so two
// opposite transfers at once take the locks in opposite orders (AB-BA).
package checkdeadlock

import "sync"

// Account holds a balance behind a mutex.
type Account struct {
	mu      sync.Mutex
	Balance int
}

// Transfer moves n from one account to another; between taking the two locks it calls
// between (a hook the test uses to make the interleaving certain).
func Transfer(from, to *Account, n int, between func()) {
	from.mu.Lock()
	defer from.mu.Unlock()
	between()
	to.mu.Lock()
	defer to.mu.Unlock()
	from.Balance -= n
	to.Balance += n
}
