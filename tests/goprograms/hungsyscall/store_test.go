package hungsyscall

import (
	"syscall"
	"testing"
)

func TestWaitForPeer(t *testing.T) {
	StartPool(make(chan int), 4)
	var p [2]int
	if err := syscall.Pipe(p[:]); err != nil {
		t.Fatal(err)
	}
	if _, err := WaitForPeer(p[0]); err != nil {
		t.Fatal(err)
	}
}
