package main

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"example.com/scenariokit/groundtruth"
)

type webhooks struct {
	mu      sync.Mutex
	pollers map[int]*poller
	next    int
	client  *http.Client
	target  string
}

type poller struct {
	id     int
	url    string
	client *http.Client
	stop   chan struct{}
	due    time.Time
}

func newWebhooks(upURL string) *webhooks {
	return &webhooks{pollers: map[int]*poller{}, client: client("webhook-client", 2*time.Second), target: upURL}
}

func (h *webhooks) create(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.next++
	p := &poller{id: h.next, url: h.target + "/v1/hooks/" + strconv.Itoa(h.next) + "?delay=2ms",
		client: h.client, stop: make(chan struct{}), due: time.Now()}
	h.pollers[p.id] = p
	h.mu.Unlock()
	go p.run()
	fmt.Fprintf(w, `{"id":%d}`, p.id)
}

func (h *webhooks) remove(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.Atoi(r.PathValue("id"))
	h.mu.Lock()
	_, ok := h.pollers[id]
	delete(h.pollers, id) // The bug: the poller is forgotten, not stopped (close(p.stop) is missing).
	h.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
	}
}

// run polls the webhook's source every 20s or so; it ticks every second.
func (p *poller) run() {
	defer groundtruth.Track("poller-never-stopped", "poller")()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for range t.C {
		if time.Now().Before(p.due) {
			continue
		}
		p.due = time.Now().Add(time.Duration(15+rand.IntN(10)) * time.Second)
		if resp, err := p.client.Get(p.url); err == nil {
			drain(resp)
		}
	}
}

// registerWebhooks creates webhooks and deletes most of them a few seconds later.
func registerWebhooks(base string) {
	defer groundtruth.Track("loadgen", "webhooks")()
	c := client("loadgen", 2*time.Second)
	var live []int
	for {
		resp, err := c.Post(base+"/webhooks", "application/json", nil)
		if err == nil {
			var id int
			fmt.Fscanf(resp.Body, `{"id":%d}`, &id)
			drain(resp)
			live = append(live, id)
		}
		if len(live) > 6 {
			id := live[0]
			live = live[1:]
			req, _ := http.NewRequest("DELETE", base+"/webhooks/"+strconv.Itoa(id), nil)
			if resp, err := c.Do(req); err == nil {
				drain(resp)
			}
		}
		time.Sleep(time.Duration(700+rand.IntN(600)) * time.Millisecond)
	}
}
