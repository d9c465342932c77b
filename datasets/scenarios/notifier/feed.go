package main

import (
	"fmt"
	"net/http"
	"time"

	"example.com/scenariokit/groundtruth"
)

// feed long-polls a topic: up to three events or 300ms, whichever comes first.
func (s *service) feed(w http.ResponseWriter, r *http.Request) {
	topic := r.PathValue("topic")
	out := make(chan Event)
	done := make(chan struct{})
	ctx := groundtruth.WithCause(r.Context(), "feed-callback-never-unregistered")
	unsubscribe := s.bus.Subscribe(ctx, topic, func(ev Event) {
		select {
		case out <- ev:
		case <-done:
		}
	})
	deadline := time.After(300 * time.Millisecond)
	for sent := 0; sent < 3; sent++ {
		select {
		case ev := <-out:
			fmt.Fprintf(w, "data: %s\n\n", ev.Body)
		case <-deadline:
			// The bug: the timeout path returns without unsubscribe() and close(done).
			return
		case <-r.Context().Done():
			close(done)
			unsubscribe()
			return
		}
	}
	close(done)
	unsubscribe()
}
