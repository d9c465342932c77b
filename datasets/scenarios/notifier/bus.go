package main

import (
	"context"
	"sync"

	"example.com/scenariokit/groundtruth"
)

type Event struct {
	Topic string
	Body  string
}

// Bus is an in-process pub/sub bus; each subscription gets a delivery goroutine
// that calls its callback for each event, until it is unsubscribed.
type Bus struct {
	mu   sync.RWMutex
	subs map[string]map[*subscription]bool
}

type subscription struct {
	queue chan Event
	fn    func(Event)
}

func NewBus() *Bus { return &Bus{subs: map[string]map[*subscription]bool{}} }

// Subscribe calls fn for each event on topic until the returned function is called.
func (b *Bus) Subscribe(ctx context.Context, topic string, fn func(Event)) (unsubscribe func()) {
	s := &subscription{queue: make(chan Event, 4), fn: fn}
	b.mu.Lock()
	if b.subs[topic] == nil {
		b.subs[topic] = map[*subscription]bool{}
	}
	b.subs[topic][s] = true
	b.mu.Unlock()
	go s.deliver(ctx)
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			delete(b.subs[topic], s)
			b.mu.Unlock()
			close(s.queue)
		})
	}
}

func (s *subscription) deliver(ctx context.Context) {
	defer groundtruth.TrackFrom(ctx, "event-bus-internal", "deliver")()
	for ev := range s.queue {
		s.fn(ev)
	}
}

// Publish hands ev to every subscriber of its topic; a subscriber whose queue is
// full misses it.
func (b *Bus) Publish(topic string, ev Event) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for s := range b.subs[topic] {
		select {
		case s.queue <- ev:
		default:
		}
	}
}

func (b *Bus) Close() {}
