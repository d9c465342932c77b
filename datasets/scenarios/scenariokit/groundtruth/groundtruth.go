// Package groundtruth records, from inside a scenario service, why each of its
// goroutines exists: the root cause of every goroutine the service starts, keyed
// by goroutine id, served as JSON at /debug/truth.
//
// The labels come from the service's own knowledge of its code. They never
// appear in the goroutine dumps (pprof labels stay realistic: handler, tenant),
// so whatever analyses the dumps cannot read the answers there.
//
// Goroutines the standard library starts on the service's behalf (net/http's
// conn.serve, persistConn.readLoop/writeLoop, ...) are labelled through their
// creator: a registered goroutine says which cause its children inherit
// (Children), and a transport's dialer registers the dialing goroutine (Dialer),
// which creates the connection's readLoop and writeLoop.
package groundtruth

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"time"
)

// Cause is one root cause: a code path that starts or parks goroutines.
type Cause struct {
	Name    string `json:"name"`
	Leak    bool   `json:"leak"`    // does this cause leak goroutines (their number grows without bound)?
	Pattern string `json:"pattern"` // the kind of bug or of healthy behaviour
	About   string `json:"about"`   // one sentence: what the code does
}

type entry struct {
	cause, role, children string
	exited                time.Time
	sticky                bool
}

var (
	mu      sync.Mutex
	service string
	causes  []Cause
	known   = map[string]bool{}
	reg     = map[int64]*entry{}
	started = time.Now()
)

// keep is how long an exited goroutine stays listed: a dump taken just before it
// exited must still find its label when /debug/truth is read right after.
const keep = 2 * time.Minute

// Declare names the service (unless name is empty) and adds causes; labels must use these names.
func Declare(name string, cs ...Cause) {
	mu.Lock()
	defer mu.Unlock()
	if name != "" {
		service = name
	}
	for _, c := range cs {
		if !known[c.Name] {
			known[c.Name] = true
			causes = append(causes, c)
		}
	}
}

// Goid is the id of the calling goroutine, read from its own stack header
// ("goroutine 123 [running]:").
func Goid() int64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	const prefix = "goroutine "
	if len(b) <= len(prefix) {
		return 0
	}
	b = b[len(prefix):]
	n := 0
	for n < len(b) && b[n] >= '0' && b[n] <= '9' {
		n++
	}
	id, _ := strconv.ParseInt(string(b[:n]), 10, 64)
	return id
}

func set(cause, role, children string, sticky bool) (int64, *entry) {
	if !known[cause] {
		panic("groundtruth: undeclared cause " + strconv.Quote(cause))
	}
	id := Goid()
	e := &entry{cause: cause, role: role, children: children, sticky: sticky}
	reg[id] = e
	return id, e
}

// Track labels the calling goroutine; call it first thing, deferring the result:
//
//	defer groundtruth.Track("worker-pool", "worker")()
func Track(cause, role string) func() {
	mu.Lock()
	_, e := set(cause, role, "", false)
	mu.Unlock()
	return func() {
		mu.Lock()
		e.exited = time.Now()
		mu.Unlock()
	}
}

// TrackParent is Track for a goroutine whose children (started by the standard
// library, such as the connections an http.Server serves) belong to another cause.
func TrackParent(cause, role, children string) func() {
	mu.Lock()
	_, e := set(cause, role, children, false)
	mu.Unlock()
	return func() {
		mu.Lock()
		e.exited = time.Now()
		mu.Unlock()
	}
}

type ctxKey struct{}

// WithCause returns a context whose goroutines, tracked with TrackFrom, get this cause
// (for library code started on behalf of several code paths).
func WithCause(ctx context.Context, cause string) context.Context {
	return context.WithValue(ctx, ctxKey{}, cause)
}

// TrackFrom is Track with the cause carried by ctx (WithCause), or def if there is none.
func TrackFrom(ctx context.Context, def, role string) func() {
	if c, ok := ctx.Value(ctxKey{}).(string); ok {
		def = c
	}
	return Track(def, role)
}

// Mark relabels the calling goroutine for a while (a handler entering a code path
// that may park it); the returned function restores what was there before.
func Mark(cause, role string) func() {
	mu.Lock()
	id := Goid()
	prev, had := reg[id]
	set(cause, role, "", false)
	mu.Unlock()
	return func() {
		mu.Lock()
		if had {
			reg[id] = prev
		} else {
			delete(reg, id)
		}
		mu.Unlock()
	}
}

// Dialer wraps d for an http.Transport: the goroutine that dials (the transport's
// dialConnFor) is labelled for good, so the readLoop and writeLoop it starts for
// the new connection inherit the cause.
func Dialer(cause string, d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		set(cause, "dial", "", true)
		mu.Unlock()
		return d.DialContext(ctx, network, addr)
	}
}

// Snapshot is what /debug/truth serves.
type Snapshot struct {
	Service    string   `json:"service"`
	PID        int      `json:"pid"`
	Uptime     float64  `json:"uptime_seconds"`
	Causes     []Cause  `json:"causes"`
	Goroutines [][5]any `json:"goroutines"` // [goid, cause, role, children, alive]
}

// Handler serves the registry as JSON; exited goroutines are listed for a while.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		mu.Lock()
		s := Snapshot{Service: service, PID: os.Getpid(), Uptime: now.Sub(started).Seconds(), Causes: causes}
		ids := make([]int64, 0, len(reg))
		for id, e := range reg {
			if !e.sticky && !e.exited.IsZero() && now.Sub(e.exited) > keep {
				delete(reg, id)
				continue
			}
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		for _, id := range ids {
			e := reg[id]
			s.Goroutines = append(s.Goroutines, [5]any{id, e.cause, e.role, e.children, e.exited.IsZero()})
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(s)
	})
}
