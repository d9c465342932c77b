// Package hungsyscall has a test that hangs in a system call: a blocking read of a pipe
// nobody writes to, as a test hangs in os.(*File).Sync on a stuck disk.
package hungsyscall

import "syscall"

// WaitForPeer reads one byte from fd, a blocking descriptor (no poller: the goroutine sits
// in the system call).
func WaitForPeer(fd int) (byte, error) {
	var b [1]byte
	_, err := syscall.Read(fd, b[:])
	return b[0], err
}

// Idle workers of a pool, parked on their jobs channel.
func StartPool(jobs chan int, n int) {
	for i := 0; i < n; i++ {
		go func() {
			for range jobs {
			}
		}()
	}
}
