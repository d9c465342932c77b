// indexer is a document indexing service under load on loopback with no leak at
// all: the control scenario. Everything in it comes and goes or stays flat, some
// of it in ways that look like leaks in a single dump:
//
//   - a crawler pool with pprof labels, often waiting on the upstream;
//   - parsers that walk documents recursively (depth 2 to 14) and block at the
//     leaves on a tokenizer semaphore, many of them in [chan send];
//   - reindex bursts of hundreds of goroutines that drain within a second or two;
//   - an ingest backlog: producers outrun the indexer while it compacts (about
//     twenty seconds), parking in [chan send] on a bounded queue; then it drains;
//   - a batcher whose workers wait on a sync.Cond, and sessions that wait on
//     time.After or their context, whichever comes first;
//   - keep-alive connections on both sides.
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
	"sync"
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
	{Name: "crawler-pool", Pattern: "worker-pool",
		About: "8 crawler workers with pprof labels fetching documents upstream over a keep-alive pool"},
	{Name: "parser-recursion", Pattern: "recursion",
		About: "4 parsers walking documents recursively (depth 2 to 14), blocking at leaves on a tokenizer semaphore"},
	{Name: "reindex-burst", Pattern: "burst", About: "reindex jobs that fan out hundreds of goroutines which drain within seconds"},
	{Name: "ingest-backlog", Pattern: "backlog-that-drains",
		About: "producers that outrun the indexer for about twenty seconds, parked on a bounded queue, then drain"},
	{Name: "batcher", Pattern: "cond-wait", About: "batch workers waiting on a sync.Cond for a batch to fill"},
	{Name: "session-timeout", Pattern: "bounded-wait",
		About: "search sessions waiting on time.After(2s) or their context, whichever comes first"},
}

var clients = flag.Int("clients", 5, "concurrent load-generating clients")

func main() {
	upstream.MaybeServe()
	flag.Parse()
	groundtruth.Declare("indexer", causes...)
	defer groundtruth.Track("main", "main")()

	upURL, stopUpstream, err := upstream.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	platform.ServeDebug()

	ix := newIndexer(upURL)
	ln := platform.Listen()
	api := &http.Server{Handler: ix.routes(), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 60 * time.Second}
	go func() {
		defer groundtruth.TrackParent("api-server", "accept", "api-server")()
		api.Serve(ln)
	}()
	fmt.Printf("api http://%s\n", ln.Addr())
	base := "http://" + ln.Addr().String()
	for i := 0; i < *clients; i++ {
		go drive(i, base)
	}
	platform.WaitForStop(stopUpstream)
}

type indexer struct {
	urls    chan string
	docs    chan *doc
	tokens  chan struct{}
	ingest  chan string
	batch   *batcher
	started time.Time
}

func newIndexer(upURL string) *indexer {
	ix := &indexer{
		urls:    make(chan string, 64),
		docs:    make(chan *doc, 16),
		tokens:  make(chan struct{}, 2),
		ingest:  make(chan string, 32),
		batch:   newBatcher(3),
		started: time.Now(),
	}
	c := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{
		DialContext:         groundtruth.Dialer("crawler-pool", &net.Dialer{Timeout: time.Second}),
		MaxIdleConnsPerHost: 8,
	}}
	for i := 0; i < 8; i++ {
		go ix.crawl(i, c, upURL)
	}
	for i := 0; i < 4; i++ {
		go ix.parse()
	}
	go ix.tokenizer()
	go ix.reindexer()
	go ix.indexLoop()
	for i := 0; i < 2; i++ {
		go ix.produce(i)
	}
	return ix
}

func (ix *indexer) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /search", labelled("/search", http.HandlerFunc(ix.search)))
	mux.Handle("POST /crawl", labelled("/crawl", http.HandlerFunc(ix.enqueue)))
	return mux
}

func labelled(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		labels := pprof.Labels("handler", route, "tenant", r.Header.Get("X-Tenant"))
		pprof.Do(r.Context(), labels, func(ctx context.Context) { h.ServeHTTP(w, r.WithContext(ctx)) })
	})
}

func (ix *indexer) enqueue(w http.ResponseWriter, r *http.Request) {
	select {
	case ix.urls <- "/v1/docs/" + strconv.Itoa(rand.IntN(10000)):
		w.WriteHeader(http.StatusAccepted)
	default:
		http.Error(w, "busy", http.StatusServiceUnavailable)
	}
}

// search starts a session that ends on its own after 2s or with the server's context.
func (ix *indexer) search(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	go func() {
		defer groundtruth.Track("session-timeout", "session")()
		defer cancel()
		select {
		case <-time.After(time.Duration(500+rand.IntN(1500)) * time.Millisecond):
		case <-ctx.Done():
		}
	}()
	ix.batch.add(r.URL.Query().Get("q"))
	fmt.Fprintf(w, `{"hits":%d}`, rand.IntN(50))
}

func (ix *indexer) crawl(i int, c *http.Client, upURL string) {
	defer groundtruth.Track("crawler-pool", "crawler")()
	pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(),
		pprof.Labels("pool", "crawl", "shard", strconv.Itoa(i))))
	for u := range ix.urls {
		resp, err := c.Get(upURL + u + "?delay=" + strconv.Itoa(20+rand.IntN(200)) + "ms&size=1024")
		if err != nil {
			continue
		}
		drain(resp)
		select {
		case ix.docs <- newDoc(2 + rand.IntN(13)):
		default:
		}
	}
}

type doc struct {
	children []*doc
}

func newDoc(depth int) *doc {
	d := &doc{}
	if depth > 0 {
		d.children = append(d.children, newDoc(depth-1))
		if rand.IntN(4) == 0 {
			d.children = append(d.children, newDoc(depth/2))
		}
	}
	return d
}

func (ix *indexer) parse() {
	defer groundtruth.Track("parser-recursion", "parser")()
	for d := range ix.docs {
		ix.walk(d, 0)
	}
}

// walk descends a document; each leaf takes a tokenizer slot (a semaphore).
func (ix *indexer) walk(d *doc, depth int) int {
	if len(d.children) == 0 {
		ix.tokens <- struct{}{}
		return depth
	}
	n := 0
	for _, c := range d.children {
		n += ix.walk(c, depth+1)
	}
	return n
}

// tokenizer frees one semaphore slot every few milliseconds.
func (ix *indexer) tokenizer() {
	defer groundtruth.Track("parser-recursion", "tokenizer")()
	for {
		<-ix.tokens
		time.Sleep(time.Duration(2+rand.IntN(6)) * time.Millisecond)
	}
}

// reindexer fans out a few hundred goroutines every few seconds; they are done in a second or two.
func (ix *indexer) reindexer() {
	defer groundtruth.Track("reindex-burst", "scheduler")()
	for {
		time.Sleep(time.Duration(3000+rand.IntN(3000)) * time.Millisecond)
		n := 100 + rand.IntN(250)
		var wg sync.WaitGroup
		gate := make(chan struct{})
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer groundtruth.Track("reindex-burst", "segment")()
				defer wg.Done()
				<-gate
				time.Sleep(time.Duration(rand.IntN(1500)) * time.Millisecond)
			}()
		}
		time.Sleep(100 * time.Millisecond)
		close(gate)
		wg.Wait()
	}
}

// produce feeds the ingest queue; when it is full, a goroutine of its own waits to hand the item over.
func (ix *indexer) produce(i int) {
	defer groundtruth.Track("ingest-backlog", "producer")()
	for n := 0; ; n++ {
		time.Sleep(time.Duration(60+rand.IntN(40)) * time.Millisecond)
		item := strconv.Itoa(i) + ":" + strconv.Itoa(n)
		select {
		case ix.ingest <- item:
		default: // never block the producer: hand the item over from a goroutine of its own
			go func() {
				defer groundtruth.Track("ingest-backlog", "overflow")()
				ix.ingest <- item // parks while the indexer is behind
			}()
		}
	}
}

// indexLoop indexes the queue; while the index is compacting (its first twenty
// seconds or so) each item takes much longer.
func (ix *indexer) indexLoop() {
	defer groundtruth.Track("ingest-backlog", "indexer")()
	for range ix.ingest {
		if time.Since(ix.started) < 22*time.Second {
			time.Sleep(50 * time.Millisecond)
		} else {
			time.Sleep(3 * time.Millisecond)
		}
	}
}

// batcher: workers wait on a Cond until a batch has filled.
type batcher struct {
	mu    sync.Mutex
	cond  *sync.Cond
	items []string
}

func newBatcher(workers int) *batcher {
	b := &batcher{}
	b.cond = sync.NewCond(&b.mu)
	for i := 0; i < workers; i++ {
		go b.work()
	}
	return b
}

func (b *batcher) add(q string) {
	b.mu.Lock()
	b.items = append(b.items, q)
	if len(b.items) >= 10 {
		b.cond.Signal()
	}
	b.mu.Unlock()
}

func (b *batcher) work() {
	defer groundtruth.Track("batcher", "worker")()
	for {
		b.mu.Lock()
		for len(b.items) < 10 {
			b.cond.Wait()
		}
		batch := b.items[:10]
		b.items = b.items[10:]
		b.mu.Unlock()
		time.Sleep(time.Duration(len(batch)) * time.Millisecond)
	}
}

func drive(i int, base string) {
	defer groundtruth.Track("loadgen", "client")()
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		DialContext:         groundtruth.Dialer("loadgen", &net.Dialer{Timeout: time.Second}),
		MaxIdleConnsPerHost: 2,
	}}
	tenant := "t-" + strconv.Itoa(i%2+1)
	for {
		var req *http.Request
		if rand.IntN(3) == 0 {
			req, _ = http.NewRequest("POST", base+"/crawl", nil)
		} else {
			req, _ = http.NewRequest("GET", base+"/search?q=w"+strconv.Itoa(rand.IntN(100)), nil)
		}
		req.Header.Set("X-Tenant", tenant)
		if resp, err := c.Do(req); err == nil {
			drain(resp)
		}
		time.Sleep(time.Duration(40+rand.IntN(100)) * time.Millisecond)
	}
}

func drain(resp *http.Response) {
	buf := make([]byte, 4096)
	for {
		if _, err := resp.Body.Read(buf); err != nil {
			break
		}
	}
	resp.Body.Close()
}
