package main

import (
	"context"
	"math/rand/v2"
	"runtime/pprof"
	"strconv"
	"sync"
	"time"

	"example.com/scenariokit/groundtruth"
)

// delivery is a fixed pool of workers per channel.
type delivery struct {
	queues map[string]chan string
}

func newDelivery() *delivery {
	d := &delivery{queues: map[string]chan string{}}
	for _, ch := range []string{"sms", "email", "push"} {
		q := make(chan string, 128)
		d.queues[ch] = q
		for i := 0; i < 3; i++ {
			go d.worker(ch, i, q)
		}
	}
	return d
}

func (d *delivery) worker(channel string, i int, q <-chan string) {
	defer groundtruth.Track("delivery-pool", "worker")()
	pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(),
		pprof.Labels("queue", channel, "worker", strconv.Itoa(i))))
	for tenant := range q {
		_ = tenant
		time.Sleep(time.Duration(1+rand.IntN(4)) * time.Millisecond)
	}
}

func (d *delivery) enqueue(channel, tenant string) {
	select {
	case d.queues[channel] <- tenant:
	default:
	}
}

// digests fans out one goroutine per subscribed user every few seconds and waits
// for them all: a burst that drains.
func (s *service) digests() {
	defer groundtruth.Track("digest-burst", "scheduler")()
	for {
		time.Sleep(time.Duration(2500+rand.IntN(1500)) * time.Millisecond)
		users := 30 + rand.IntN(120)
		var wg sync.WaitGroup
		for u := 0; u < users; u++ {
			wg.Add(1)
			go func(u int) {
				defer groundtruth.Track("digest-burst", "sender")()
				defer wg.Done()
				sendDigest(u)
			}(u)
		}
		wg.Wait()
	}
}

func sendDigest(user int) {
	time.Sleep(time.Duration(100+rand.IntN(900)) * time.Millisecond)
}

// template rendering: recursive walks of template trees of varying depth.
type tmpl struct {
	name     string
	children []*tmpl
}

func makeTemplate(depth int) *tmpl {
	t := &tmpl{name: "t" + strconv.Itoa(depth)}
	if depth > 0 {
		for i := 0; i < 1+rand.IntN(2); i++ {
			t.children = append(t.children, makeTemplate(depth-1-rand.IntN(2)))
		}
	}
	return t
}

func startRenderers(n int) {
	jobs := make(chan *tmpl)
	for i := 0; i < n; i++ {
		go renderWorker(jobs)
	}
	go func() {
		defer groundtruth.Track("template-render", "feeder")()
		for {
			jobs <- makeTemplate(3 + rand.IntN(8))
		}
	}()
}

func renderWorker(jobs <-chan *tmpl) {
	defer groundtruth.Track("template-render", "renderer")()
	for t := range jobs {
		render(t, 0)
	}
}

func render(t *tmpl, depth int) int {
	if len(t.children) == 0 {
		time.Sleep(time.Duration(3+rand.IntN(5)) * time.Millisecond) // fetch the partial
		return 1
	}
	n := 0
	for _, c := range t.children {
		n += render(c, depth+1)
	}
	return n
}
