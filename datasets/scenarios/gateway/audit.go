package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"time"

	"example.com/scenariokit/groundtruth"
)

type entry struct {
	method, path, tenant string
	status               int
	took                 time.Duration
}

// auditLog records every audited request through a single shipper.
type auditLog struct {
	entries chan entry
	errors  chan entry
	client  *http.Client
	target  string
}

func newAuditLog(upURL string) *auditLog {
	a := &auditLog{
		entries: make(chan entry),
		errors:  make(chan entry),
		target:  upURL + "/v1/audit",
		client: &http.Client{Transport: &http.Transport{ // no Timeout: the bug's other half
			DialContext: groundtruth.Dialer("audit-goroutine-per-request", &net.Dialer{Timeout: time.Second}),
		}},
	}
	go a.ship()
	return a
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// middleware audits each request in a goroutine of its own, so as not to slow it down.
func (a *auditLog) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		go a.record(entry{r.Method, r.URL.Path, r.Header.Get("X-Tenant"), sw.status, time.Since(start)})
	})
}

func (a *auditLog) record(e entry) {
	defer groundtruth.Track("audit-goroutine-per-request", "recorder")()
	if e.status >= 400 {
		a.errors <- e
		return
	}
	a.entries <- e
}

// ship batches entries and posts them; the audit backend stalls on its 12th batch
// and the post, with no timeout, never returns.
func (a *auditLog) ship() {
	defer groundtruth.Track("audit-goroutine-per-request", "shipper")()
	var batch bytes.Buffer
	n, batches := 0, 0
	for {
		select {
		case e := <-a.entries:
			fmt.Fprintf(&batch, "%s %s %s %d %s\n", e.method, e.path, e.tenant, e.status, e.took)
		case e := <-a.errors:
			fmt.Fprintf(&batch, "ERR %s %s %s %d\n", e.method, e.path, e.tenant, e.status)
		}
		if n++; n < 8 {
			continue
		}
		batches++
		q := "?delay=3ms"
		if batches == 12 {
			q = "?hang=1"
		}
		if resp, err := a.client.Post(a.target+q, "text/plain", &batch); err == nil {
			drain(resp)
		}
		batch.Reset()
		n = 0
	}
}
