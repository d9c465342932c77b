package main

import (
	"math/rand/v2"
	"time"

	"example.com/scenariokit/groundtruth"
)

var popular = []string{"p-1", "p-2", "p-3"}

type item struct {
	sku string
	qty int
}

// firstOr runs f in a goroutine and waits at most wait for its result. The bug:
// ch is unbuffered, so when the wait wins, the goroutine blocks on its send for good.
func firstOr[T any](wait time.Duration, fallback T, f func() T) T {
	ch := make(chan T)
	go func() {
		defer groundtruth.Track("recommend-orphan-sender", "sender")()
		ch <- f()
	}()
	select {
	case v := <-ch:
		return v
	case <-time.After(wait):
		return fallback
	}
}

// scoreProducts stands for a model call: usually fast, sometimes slow.
func scoreProducts(id string) []string {
	time.Sleep(latency())
	return []string{id + "-a", id + "-b"}
}

func crossSell(items []item) []item {
	time.Sleep(latency())
	return append([]item(nil), items[0])
}

func latency() time.Duration {
	if rand.IntN(100) < 8 {
		return time.Duration(45+rand.IntN(40)) * time.Millisecond
	}
	return time.Duration(2+rand.IntN(10)) * time.Millisecond
}
