package main

import (
	"context"
	"runtime/pprof"
	"strconv"
	"time"

	"example.com/scenariokit/groundtruth"
)

// mailer is a fixed pool of workers sending order e-mails.
type mailer struct {
	jobs chan order
}

func newMailer(workers int) *mailer {
	m := &mailer{jobs: make(chan order, 256)}
	for i := 0; i < workers; i++ {
		go m.worker(i)
	}
	return m
}

func (m *mailer) worker(i int) {
	defer groundtruth.Track("email-pool", "worker")()
	ctx := pprof.WithLabels(context.Background(), pprof.Labels("pool", "email", "worker", strconv.Itoa(i)))
	pprof.SetGoroutineLabels(ctx)
	for o := range m.jobs {
		m.send(o)
	}
}

func (m *mailer) send(o order) {
	time.Sleep(time.Duration(1+o.id%4) * time.Millisecond) // SMTP round trip
}

// enqueue drops the e-mail when the queue is full (it is retried by a batch job).
func (m *mailer) enqueue(o order) {
	select {
	case m.jobs <- o:
	default:
	}
}
