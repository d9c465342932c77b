// gateway is an API gateway under load on loopback: it proxies reads to an
// upstream, forwards webhooks, audits writes, accepts legacy uploads on a second
// port and keeps a cache warm. Four leaks of real incidents hide in it among
// healthy goroutines:
//
//   - the legacy upload server has no ReadHeaderTimeout, ReadTimeout or
//     IdleTimeout: slow clients hold its connections open for ever, some before
//     their headers are complete, some in the middle of their body (uploads.go);
//   - the webhook forwarder returns on a non-2xx status before deferring
//     resp.Body.Close(): each such response keeps its connection's readLoop and
//     writeLoop (forward.go);
//   - the audit middleware starts a goroutine per request that hands its entry
//     to a single shipper; the shipper's HTTP call has no timeout and hangs, and
//     the audit goroutines pile up (audit.go);
//   - the cache warmer fans out fetches under a sync.WaitGroup and forgets Done
//     on the error path: the warm, recursive over a tree, waits for ever at the
//     depth where a fetch failed (warmer.go).
//
// Healthy: a reverse proxy with a keep-alive pool, a token-bucket refiller,
// pprof-labelled handlers, keep-alive client connections.
//
// It prints "debug http://ADDR" (pprof and /debug/truth), "api http://ADDR" and
// "uploads http://ADDR", then runs until SIGINT/SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"runtime/pprof"
	"strconv"
	"sync/atomic"
	"time"

	"example.com/scenariokit/groundtruth"
	"example.com/scenariokit/platform"
	"example.com/scenariokit/upstream"
)

var causes = []groundtruth.Cause{
	{Name: "main", Pattern: "main", About: "the main goroutine, waiting for a stop signal"},
	{Name: "api-server", Pattern: "http-server",
		About: "the API's accept loop and its clients' connections (idle keep-alive between requests)"},
	{Name: "upload-server", Pattern: "http-server", About: "the legacy upload server's accept loop"},
	{Name: "loadgen", Pattern: "load-generator", About: "clients on loopback driving the gateway, and their connections"},
	{Name: "proxy-pool", Pattern: "keep-alive", About: "the reverse proxy's keep-alive connection pool to the upstream"},
	{Name: "rate-limiter", Pattern: "ticker-loop", About: "a token bucket refilled by a ticker loop"},
	{Name: "cache-warmer", Pattern: "ticker-loop", About: "the ticker loop that starts a cache warm every 800ms"},
	{Name: "upload-no-timeouts", Leak: true, Pattern: "http-server-no-timeouts",
		About: "the upload server has no ReadHeaderTimeout/ReadTimeout/IdleTimeout: slow clients hold its connections (conn.serve) open for ever"},
	{Name: "response-body-not-closed", Leak: true, Pattern: "response-body-not-closed",
		About: "the webhook forwarder returns on a non-2xx status before closing the body: the connection's readLoop and writeLoop stay"},
	{Name: "audit-goroutine-per-request", Leak: true, Pattern: "goroutine-per-request",
		About: "the audit middleware starts a goroutine per request that sends to a single shipper; the shipper's call has no timeout and hangs"},
	{Name: "warmer-waitgroup-missing-done", Leak: true, Pattern: "waitgroup-missing-done",
		About: "the cache warm forgets wg.Done on a failed fetch; the recursive warm waits for ever at that depth"},
}

var clients = flag.Int("clients", 6, "concurrent load-generating clients")

func main() {
	upstream.MaybeServe()
	flag.Parse()
	groundtruth.Declare("gateway", causes...)
	defer groundtruth.Track("main", "main")()

	upURL, stopUpstream, err := upstream.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	platform.ServeDebug()

	g := newGateway(upURL)
	ln := platform.Listen()
	api := &http.Server{Handler: g.routes(), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 60 * time.Second}
	go func() {
		defer groundtruth.TrackParent("api-server", "accept", "api-server")()
		api.Serve(ln)
	}()
	uploads := serveUploads()
	fmt.Printf("api http://%s\nuploads http://%s\n", ln.Addr(), uploads)

	base := "http://" + ln.Addr().String()
	for i := 0; i < *clients; i++ {
		go drive(i, base)
	}
	go slowClients(uploads)
	platform.WaitForStop(stopUpstream)
}

type gateway struct {
	proxy    *httputil.ReverseProxy
	hooks    *forwarder
	audit    *auditLog
	tokens   atomic.Int64
	upstream string
}

func newGateway(upURL string) *gateway {
	target, _ := url.Parse(upURL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = &http.Transport{
		DialContext:         groundtruth.Dialer("proxy-pool", &net.Dialer{Timeout: time.Second}),
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
	}
	g := &gateway{proxy: proxy, hooks: newForwarder(upURL), audit: newAuditLog(upURL), upstream: upURL}
	go g.refill()
	go newWarmer().loop()
	return g
}

func (g *gateway) routes() http.Handler {
	mux := http.NewServeMux()
	read := func(route string, h http.Handler) http.Handler { return g.limit(labelled(route, h)) }
	mux.Handle("GET /v1/items/{id}", read("/v1/items", http.HandlerFunc(g.item)))
	mux.Handle("POST /v1/orders", g.audit.middleware(labelled("/v1/orders", http.HandlerFunc(g.order))))
	mux.Handle("POST /admin/keys", g.audit.middleware(g.auth(labelled("/admin/keys", http.HandlerFunc(g.order)))))
	mux.Handle("POST /hooks/{name}", labelled("/hooks", http.HandlerFunc(g.hook)))
	return mux
}

func labelled(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		labels := pprof.Labels("handler", route, "tenant", r.Header.Get("X-Tenant"))
		pprof.Do(r.Context(), labels, func(ctx context.Context) { h.ServeHTTP(w, r.WithContext(ctx)) })
	})
}

func (g *gateway) auth(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Tenant") == "" {
			http.Error(w, "no tenant", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (g *gateway) limit(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.tokens.Add(-1) < -50 {
			g.tokens.Add(1)
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (g *gateway) refill() {
	defer groundtruth.Track("rate-limiter", "refill")()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for range t.C {
		if g.tokens.Load() < 20 {
			g.tokens.Add(5)
		}
	}
}

func (g *gateway) item(w http.ResponseWriter, r *http.Request) {
	r.URL.RawQuery = "delay=" + strconv.Itoa(1+rand.IntN(8)) + "ms&size=256"
	g.proxy.ServeHTTP(w, r)
}

func (g *gateway) order(w http.ResponseWriter, r *http.Request) {
	time.Sleep(time.Duration(1+rand.IntN(3)) * time.Millisecond)
	w.WriteHeader(http.StatusCreated)
}

func (g *gateway) hook(w http.ResponseWriter, r *http.Request) {
	if err := g.hooks.forward(r.PathValue("name"), r.Header.Get("X-Tenant")); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func drive(i int, base string) {
	defer groundtruth.Track("loadgen", "client")()
	c := &http.Client{
		Timeout: 2 * time.Second,
		Transport: &http.Transport{
			DialContext:         groundtruth.Dialer("loadgen", &net.Dialer{Timeout: time.Second}),
			MaxIdleConnsPerHost: 2,
		},
	}
	tenant := "t-" + strconv.Itoa(i%3+1)
	for {
		var req *http.Request
		switch x := rand.IntN(100); {
		case x < 8:
			req, _ = http.NewRequest("POST", base+"/v1/orders", nil)
		case x < 10:
			req, _ = http.NewRequest("POST", base+"/admin/keys", nil)
		case x < 35:
			req, _ = http.NewRequest("POST", base+"/hooks/h-"+strconv.Itoa(rand.IntN(5)), nil)
		default:
			req, _ = http.NewRequest("GET", base+"/v1/items/"+strconv.Itoa(rand.IntN(500)), nil)
		}
		req.Header.Set("X-Tenant", tenant)
		if resp, err := c.Do(req); err == nil {
			drain(resp)
		}
		time.Sleep(time.Duration(60+rand.IntN(120)) * time.Millisecond)
	}
}
