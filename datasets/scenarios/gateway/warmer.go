package main

import (
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"example.com/scenariokit/groundtruth"
)

type node struct {
	key      string
	children []*node
}

type warmer struct {
	root *node
}

func newWarmer() *warmer {
	var grow func(key string, depth int) *node
	grow = func(key string, depth int) *node {
		n := &node{key: key}
		if depth < 5 {
			for i := 0; i < 2+rand.IntN(2); i++ {
				if depth < 2 || rand.IntN(3) > 0 {
					n.children = append(n.children, grow(key+"/"+string(rune('a'+i)), depth+1))
				}
			}
		}
		return n
	}
	return &warmer{root: grow("", 0)}
}

func (w *warmer) loop() {
	defer groundtruth.Track("cache-warmer", "ticker")()
	t := time.NewTicker(800 * time.Millisecond)
	defer t.Stop()
	for range t.C {
		go w.warmAll()
	}
}

func (w *warmer) warmAll() {
	defer groundtruth.Track("warmer-waitgroup-missing-done", "warm")()
	w.warm(w.root, 0)
}

// warm fetches a node's children in parallel, then warms each of them.
func (w *warmer) warm(n *node, depth int) {
	var wg sync.WaitGroup
	for _, c := range n.children {
		wg.Add(1)
		go func(c *node) {
			defer groundtruth.Track("warmer-waitgroup-missing-done", "fetch")()
			if err := fetch(c.key); err != nil {
				return // the bug: wg.Done() is skipped on this path
			}
			wg.Done()
		}(c)
	}
	wg.Wait()
	for _, c := range n.children {
		if len(c.children) > 0 {
			w.warm(c, depth+1)
		}
	}
}

var errMiss = errors.New("cache backend: timeout")

func fetch(key string) error {
	time.Sleep(time.Duration(200+rand.IntN(800)) * time.Microsecond)
	if rand.IntN(120) == 0 {
		return errMiss
	}
	return nil
}
