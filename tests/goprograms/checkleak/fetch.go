// Package checkleak leaks a goroutine per extra mirror in FirstAnswer: the classic
// "first response wins" bug, where the losers block forever sending on an unbuffered channel.
package checkleak

import "time"

// FirstAnswer asks every mirror and returns the first answer.
func FirstAnswer(mirrors []string) string {
	answers := make(chan string) // unbuffered: the losers have no receiver
	for _, m := range mirrors {
		go func(m string) {
			time.Sleep(time.Millisecond)
			answers <- "answer from " + m
		}(m)
	}
	return <-answers
}

// Sum adds numbers in a goroutine and waits for it: no leak.
func Sum(xs []int) int {
	done := make(chan int)
	go func() {
		s := 0
		for _, x := range xs {
			s += x
		}
		done <- s
	}()
	return <-done
}
