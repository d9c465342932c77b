// checkout is an order checkout API under load on loopback. Three leaks of real
// incidents hide in it among healthy goroutines:
//
//   - settle and refund call the payment service in a retry loop whose HTTP client
//     has no timeout and whose calls carry no context: a hung call parks its
//     goroutine, and its connection's readLoop and writeLoop, for good (payments.go);
//   - each price quote starts a watcher that waits in a select on time.After(5m)
//     and never looks at the request's context (quotes.go);
//   - recommendations are computed in a goroutine that sends its result on an
//     unbuffered channel; after the 40ms fallback nobody receives (recommend.go).
//
// Healthy: a fixed e-mail worker pool with pprof labels, a reconciler ticker, the
// API's keep-alive connections, the inventory client's idle connection pool.
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
	"sync/atomic"
	"time"

	"example.com/scenariokit/groundtruth"
	"example.com/scenariokit/platform"
	"example.com/scenariokit/upstream"
)

var causes = []groundtruth.Cause{
	{Name: "main", Pattern: "main", About: "the main goroutine, waiting for a stop signal"},
	{Name: "api-server", Pattern: "http-server",
		About: "the checkout API's accept loop and its clients' connections (idle keep-alive between requests)"},
	{Name: "loadgen", Pattern: "load-generator", About: "shoppers on loopback driving the API, and their keep-alive connections"},
	{Name: "email-pool", Pattern: "worker-pool", About: "a fixed pool of 6 workers sending order e-mails, with pprof labels"},
	{Name: "reconciler", Pattern: "ticker-loop", About: "a ticker loop that starts refunds for cancelled orders"},
	{Name: "inventory-client", Pattern: "keep-alive",
		About: "the inventory client's connection pool: bodies read and closed, idle connections kept alive"},
	{Name: "payment-retry-no-timeout", Leak: true, Pattern: "retry-no-timeout",
		About: "settle and refund call the payment service in a retry loop with no client timeout and no context; a hung call parks the caller and its connection's readLoop and writeLoop forever"},
	{Name: "quote-watch-time-after", Leak: true, Pattern: "time-after-ignores-ctx",
		About: "each quote starts a price watcher that waits in a select on time.After(5m) and ignores the request's context"},
	{Name: "recommend-orphan-sender", Leak: true, Pattern: "orphan-result-sender",
		About: "recommendations are computed in a goroutine that sends on an unbuffered channel; after the 40ms fallback nobody receives"},
}

var shoppers = flag.Int("shoppers", 6, "concurrent load-generating clients")

func main() {
	upstream.MaybeServe()
	flag.Parse()
	groundtruth.Declare("checkout", causes...)
	defer groundtruth.Track("main", "main")()

	upURL, stopUpstream, err := upstream.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	platform.ServeDebug()

	s := newServer(upURL)
	ln := platform.Listen()
	api := &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       90 * time.Second,
	}
	go func() {
		defer groundtruth.TrackParent("api-server", "accept", "api-server")()
		api.Serve(ln)
	}()
	fmt.Printf("api http://%s\n", ln.Addr())

	go s.reconcile(300 * time.Millisecond)
	for i := 0; i < *shoppers; i++ {
		go shop(i, "http://"+ln.Addr().String())
	}
	platform.WaitForStop(stopUpstream)
}

type server struct {
	payments  *paymentClient
	inventory *http.Client
	upstream  string
	mail      *mailer
	reprice   chan struct{} // the repricing job that fed this was retired; nothing sends any more
	recent    chan order
	orders    atomic.Int64
}

func newServer(upURL string) *server {
	s := &server{
		payments: newPaymentClient(upURL),
		inventory: &http.Client{
			Timeout: 2 * time.Second,
			Transport: &http.Transport{
				DialContext:         groundtruth.Dialer("inventory-client", &net.Dialer{Timeout: time.Second}),
				MaxIdleConnsPerHost: 4,
			},
		},
		upstream: upURL,
		mail:     newMailer(6),
		reprice:  make(chan struct{}),
		recent:   make(chan order, 64),
	}
	return s
}

func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /checkout", withLabels("/checkout", http.HandlerFunc(s.checkout)))
	mux.Handle("GET /product/{id}", withLabels("/product", http.HandlerFunc(s.product)))
	mux.Handle("GET /cart", withLabels("/cart", http.HandlerFunc(s.cart)))
	mux.Handle("GET /quote/{sku}", withLabels("/quote", http.HandlerFunc(s.quote)))
	return mux
}

// withLabels tags the request's goroutine (and those it starts) for profiles.
func withLabels(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tenant := r.Header.Get("X-Tenant")
		pprof.Do(r.Context(), pprof.Labels("handler", route, "tenant", tenant), func(ctx context.Context) {
			h.ServeHTTP(w, r.WithContext(ctx))
		})
	})
}

type order struct {
	id     int64
	tenant string
	amount float64
}

func (s *server) checkout(w http.ResponseWriter, r *http.Request) {
	o := order{id: s.orders.Add(1), tenant: r.Header.Get("X-Tenant"), amount: 5 + rand.Float64()*200}
	s.mail.enqueue(o)
	go s.settle(o)
	select {
	case s.recent <- o:
	default:
	}
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprintf(w, `{"order":%d}`, o.id)
}

func (s *server) settle(o order) {
	defer groundtruth.Track("payment-retry-no-timeout", "caller")()
	if err := s.payments.Charge(o); err != nil {
		s.mail.enqueue(o) // "payment failed" e-mail
	}
}

func (s *server) refund(o order) {
	defer groundtruth.Track("payment-retry-no-timeout", "caller")()
	s.payments.Refund(o)
}

// reconcile refunds some recent orders, as if their customers had cancelled.
func (s *server) reconcile(every time.Duration) {
	defer groundtruth.Track("reconciler", "ticker")()
	t := time.NewTicker(every)
	defer t.Stop()
	for range t.C {
		select {
		case o := <-s.recent:
			if o.id%4 == 0 {
				go s.refund(o)
			}
		default:
		}
	}
}

func (s *server) product(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	resp, err := s.inventory.Get(s.upstream + "/v1/stock/" + id + "?delay=2ms&size=512")
	if err == nil {
		drain(resp)
	}
	recs := firstOr(40*time.Millisecond, popular, func() []string { return scoreProducts(id) })
	fmt.Fprintf(w, `{"id":%q,"recs":%d}`, id, len(recs))
}

func (s *server) cart(w http.ResponseWriter, r *http.Request) {
	items := []item{{sku: "a", qty: 1}, {sku: "b", qty: 2}}
	extra := firstOr(40*time.Millisecond, nil, func() []item { return crossSell(items) })
	fmt.Fprintf(w, `{"items":%d,"extra":%d}`, len(items), len(extra))
}

func shop(i int, api string) {
	defer groundtruth.Track("loadgen", "shopper")()
	tenant := "t-" + strconv.Itoa(i%3+1)
	c := &http.Client{
		Timeout: 3 * time.Second,
		Transport: &http.Transport{
			DialContext:         groundtruth.Dialer("loadgen", &net.Dialer{Timeout: time.Second}),
			MaxIdleConnsPerHost: 2,
		},
	}
	for {
		var req *http.Request
		switch x := rand.IntN(100); {
		case x < 25:
			req, _ = http.NewRequest("POST", api+"/checkout", nil)
		case x < 30:
			req, _ = http.NewRequest("GET", api+"/quote/sku-"+strconv.Itoa(rand.IntN(500)), nil)
		case x < 45:
			req, _ = http.NewRequest("GET", api+"/cart", nil)
		default:
			req, _ = http.NewRequest("GET", api+"/product/"+strconv.Itoa(rand.IntN(1000)), nil)
		}
		req.Header.Set("X-Tenant", tenant)
		if resp, err := c.Do(req); err == nil {
			drain(resp)
		}
		time.Sleep(time.Duration(60+rand.IntN(120)) * time.Millisecond)
	}
}
