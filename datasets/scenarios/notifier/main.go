// notifier is a notification service under load on loopback: live feeds over
// long polling, polled webhooks, data stream sessions and delivery queues. Four
// leaks of real incidents hide in it among healthy goroutines:
//
//   - /feed subscribes a callback on the event bus and returns on its timeout
//     path without unsubscribing: the subscription's delivery goroutine stays,
//     blocked in the callback or waiting for the next event (bus.go, feed.go);
//   - deleting a webhook forgets to stop its poller: a ticker loop with no exit
//     (webhooks.go);
//   - a stream session opens a data listener and never closes it: its accept
//     loop waits for ever (streams.go);
//   - the stats publisher holds the stats mutex while it sends to the exporter;
//     once the exporter gives up, the send blocks for good, and every request
//     and gauge flush that records a statistic queues on the mutex (stats.go).
//
// Healthy: digest bursts that fan out and drain, a delivery worker pool with
// pprof labels, template rendering of varying recursion depth, keep-alive
// connections.
//
// It prints "debug http://ADDR" (pprof and /debug/truth) and "api http://ADDR",
// then runs until SIGINT/SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"strconv"
	"time"

	"example.com/scenariokit/groundtruth"
	"example.com/scenariokit/platform"
	"example.com/scenariokit/upstream"
)

var causes = []groundtruth.Cause{
	{Name: "main", Pattern: "main", About: "the main goroutine, waiting for a stop signal"},
	{Name: "api-server", Pattern: "http-server",
		About: "the API's accept loop and its clients' connections (idle keep-alive between requests)"},
	{Name: "loadgen", Pattern: "load-generator", About: "clients on loopback driving the API, and their connections"},
	{Name: "event-bus-internal", Pattern: "subscriber",
		About: "the bus's long-lived internal subscribers (archive, metrics), unsubscribed at shutdown"},
	{Name: "publisher", Pattern: "ticker-loop", About: "a ticker loop publishing events on the bus"},
	{Name: "webhook-client", Pattern: "keep-alive", About: "the webhook pollers' HTTP connection pool"},
	{Name: "delivery-pool", Pattern: "worker-pool",
		About: "a fixed pool of delivery workers (sms, email, push queues) with pprof labels"},
	{Name: "digest-burst", Pattern: "burst",
		About: "every few seconds a digest job fans out one goroutine per user and waits for them: bursts that drain"},
	{Name: "template-render", Pattern: "recursion",
		About: "template renderers walking template trees recursively (depth 3 to 10) and fetching partials at the leaves"},
	{Name: "stats-exporter", Pattern: "consumer",
		About: "the exporter that pushes stats snapshots upstream; it returns on its first failed push"},
	{Name: "stream-pump", Pattern: "short-lived", About: "goroutines that write a stream session's data and close the connection"},
	{Name: "feed-callback-never-unregistered", Leak: true, Pattern: "callback-never-unregistered",
		About: "/feed returns on its timeout path without unsubscribing: the delivery goroutine stays, blocked in the callback or waiting for events"},
	{Name: "poller-never-stopped", Leak: true, Pattern: "ticker-no-exit",
		About: "deleting a webhook forgets to stop its poller: a ticker loop with no exit"},
	{Name: "stream-listener-never-closed", Leak: true, Pattern: "listener-never-closed",
		About: "a stream session's data listener is never closed: its accept loop waits for ever"},
	{Name: "stats-lock-held-across-send", Leak: true, Pattern: "lock-held-across-channel-op",
		About: "the stats publisher holds the mutex while sending to an exporter that gave up; requests and gauge flushes queue on the mutex"},
}

var clients = flag.Int("clients", 6, "concurrent load-generating clients")

func main() {
	upstream.MaybeServe()
	flag.Parse()
	groundtruth.Declare("notifier", causes...)
	defer groundtruth.Track("main", "main")()

	upURL, stopUpstream, err := upstream.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	platform.ServeDebug()

	s := newService(upURL)
	ln := platform.Listen()
	api := &http.Server{Handler: s.routes(), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 90 * time.Second}
	go func() {
		defer groundtruth.TrackParent("api-server", "accept", "api-server")()
		api.Serve(ln)
	}()
	fmt.Printf("api http://%s\n", ln.Addr())

	base := "http://" + ln.Addr().String()
	for i := 0; i < *clients; i++ {
		go drive(i, base)
	}
	go registerWebhooks(base)
	go openStreams(base)
	platform.WaitForStop(stopUpstream, s.bus.Close)
}

type service struct {
	upstream string
	bus      *Bus
	hooks    *webhooks
	streams  *streams
	stats    *stats
	delivery *delivery
}

func newService(upURL string) *service {
	s := &service{
		upstream: upURL,
		bus:      NewBus(),
		hooks:    newWebhooks(upURL),
		streams:  newStreams(),
		stats:    newStats(upURL),
		delivery: newDelivery(),
	}
	for _, topic := range []string{"orders", "alerts"} {
		ctx := groundtruth.WithCause(context.Background(), "event-bus-internal")
		s.bus.Subscribe(ctx, topic, func(ev Event) { archive(ev) })
	}
	go s.publishEvents()
	go s.digests()
	startRenderers(4)
	return s
}

func (s *service) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /feed/{topic}", labelled("/feed", http.HandlerFunc(s.feed)))
	mux.Handle("POST /notify", labelled("/notify", http.HandlerFunc(s.notify)))
	mux.Handle("POST /webhooks", labelled("/webhooks", http.HandlerFunc(s.hooks.create)))
	mux.Handle("DELETE /webhooks/{id}", labelled("/webhooks", http.HandlerFunc(s.hooks.remove)))
	mux.Handle("POST /streams", labelled("/streams", http.HandlerFunc(s.streams.open)))
	mux.Handle("DELETE /streams/{id}", labelled("/streams", http.HandlerFunc(s.streams.end)))
	return mux
}

func labelled(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		labels := pprof.Labels("handler", route, "tenant", r.Header.Get("X-Tenant"))
		pprof.Do(r.Context(), labels, func(ctx context.Context) { h.ServeHTTP(w, r.WithContext(ctx)) })
	})
}

// notify queues a notification; high-priority ones are counted in the stats.
func (s *service) notify(w http.ResponseWriter, r *http.Request) {
	channel := []string{"sms", "email", "push"}[rand.IntN(3)]
	s.delivery.enqueue(channel, r.Header.Get("X-Tenant"))
	if r.URL.Query().Get("priority") == "high" {
		defer groundtruth.Mark("stats-lock-held-across-send", "waiter")()
		s.stats.observe("high:" + channel)
	}
	s.bus.Publish("alerts", Event{Topic: "alerts", Body: channel})
	w.WriteHeader(http.StatusAccepted)
}

func (s *service) publishEvents() {
	defer groundtruth.Track("publisher", "ticker")()
	t := time.NewTicker(150 * time.Millisecond)
	defer t.Stop()
	n := 0
	for range t.C {
		n++
		topic := []string{"orders", "orders", "alerts", "inventory"}[n%4]
		s.bus.Publish(topic, Event{Topic: topic, Body: strconv.Itoa(n)})
	}
}

func archive(ev Event) { time.Sleep(100 * time.Microsecond) }

func client(cause string, timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext:         groundtruth.Dialer(cause, &net.Dialer{Timeout: time.Second}),
			MaxIdleConnsPerHost: 2,
		},
	}
}

func drive(i int, base string) {
	defer groundtruth.Track("loadgen", "client")()
	c := client("loadgen", 2*time.Second)
	tenant := "t-" + strconv.Itoa(i%4+1)
	for {
		var req *http.Request
		switch x := rand.IntN(100); {
		case x < 16:
			topic := []string{"orders", "alerts", "inventory"}[rand.IntN(3)]
			req, _ = http.NewRequest("GET", base+"/feed/"+topic, nil)
		case x < 20:
			req, _ = http.NewRequest("POST", base+"/notify?priority=high", nil)
		default:
			req, _ = http.NewRequest("POST", base+"/notify", nil)
		}
		req.Header.Set("X-Tenant", tenant)
		if resp, err := c.Do(req); err == nil {
			drain(resp)
		}
		time.Sleep(time.Duration(80+rand.IntN(160)) * time.Millisecond)
	}
}
