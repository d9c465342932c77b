package main

import (
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync"
	"time"

	"example.com/scenariokit/groundtruth"
)

// stats counts notifications and publishes a snapshot twice a second to an
// exporter that pushes it upstream.
type stats struct {
	mu     sync.Mutex
	counts map[string]int
	gauge  int
	out    chan map[string]int
	client *http.Client
	target string
}

func newStats(upURL string) *stats {
	s := &stats{counts: map[string]int{}, out: make(chan map[string]int), client: client("stats-exporter", 2*time.Second),
		target: upURL + "/v1/metrics"}
	go s.runPublisher()
	go s.runExporter()
	go s.runGauges()
	return s
}

func (s *stats) observe(key string) {
	s.mu.Lock()
	s.counts[key]++
	s.mu.Unlock()
}

// publish sends the snapshot while holding mu: the bug. Once nobody receives on
// out, publish blocks for ever with mu held.
func (s *stats) publish() {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := maps.Clone(s.counts)
	s.out <- snap
	clear(s.counts)
}

func (s *stats) runPublisher() {
	defer groundtruth.Track("stats-lock-held-across-send", "holder")()
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for range t.C {
		s.publish()
	}
}

// runExporter pushes snapshots upstream and gives up on the first failure.
func (s *stats) runExporter() {
	defer groundtruth.Track("stats-exporter", "exporter")()
	n := 0
	for snap := range s.out {
		n++
		q := "?delay=2ms"
		if n == 30 { // the metrics backend rejects a push about 15s in
			q = "?status=500"
		}
		body := strings.NewReader(fmt.Sprint(snap))
		resp, err := s.client.Post(s.target+q, "text/plain", body)
		if err != nil {
			return
		}
		drain(resp)
		if resp.StatusCode >= 500 {
			return
		}
	}
}

// runGauges starts a short gauge flush every second.
func (s *stats) runGauges() {
	defer groundtruth.Track("stats-exporter", "gauges")()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for range t.C {
		go s.flushGauge()
	}
}

func (s *stats) flushGauge() {
	defer groundtruth.Track("stats-lock-held-across-send", "waiter")()
	s.mu.Lock()
	s.gauge = len(s.counts)
	s.mu.Unlock()
}
