package checkdeadlock

import (
	"sync"
	"testing"
)

func TestOneTransfer(t *testing.T) {
	a, b := &Account{Balance: 10}, &Account{}
	Transfer(a, b, 5, func() {})
	if a.Balance != 5 || b.Balance != 5 {
		t.Fatalf("balances %d %d", a.Balance, b.Balance)
	}
}

func TestOppositeTransfers(t *testing.T) {
	a, b := &Account{Balance: 10}, &Account{Balance: 10}
	var bothLocked sync.WaitGroup
	bothLocked.Add(2)
	hook := func() { bothLocked.Done(); bothLocked.Wait() } // each holds its first lock
	done := make(chan bool)
	go func() { Transfer(a, b, 1, hook); done <- true }()
	Transfer(b, a, 1, hook)
	<-done
}
