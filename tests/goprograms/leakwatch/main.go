// leakwatch is a small order-notification service whose goroutine count the
// watch tests and the watch benchmark follow from outside. Flags choose what its
// count does over time:
//
//   - a leak that starts after a quiet warm-up (-leak-after, -leak-rate): each
//     order starts a confirmation sender that sends its result on an unbuffered
//     channel nobody receives once the caller's 20ms deadline has passed
//     (main.(*orders).confirm.func1, [chan send]);
//   - bursts that drain (-burst-every, -burst-size, -burst-hold): a fan-out of
//     workers that each wait for a bounded time and return;
//   - steady noise (-noise): short-lived request goroutines coming and going.
//
// A slow leak is a low -leak-rate (1/60 is one goroutine a minute).
//
// It serves net/http/pprof and /metrics (Prometheus text format: go_goroutines,
// the runtime's created-goroutines counter, and its own ground truth:
// leakwatch_leaked_goroutines, leakwatch_burst_goroutines) on 127.0.0.1:0 and
// prints "listening on http://ADDR" as its first line of stdout.
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"time"
)

var (
	leakAfter  = flag.Duration("leak-after", 10*time.Second, "quiet warm-up before the leak starts")
	leakRate   = flag.Float64("leak-rate", 0, "goroutines leaked per second once it starts (0: no leak)")
	burstEvery = flag.Duration("burst-every", 0, "time between two bursts (0: no bursts)")
	burstSize  = flag.Int("burst-size", 200, "goroutines in one burst")
	burstHold  = flag.Duration("burst-hold", 2*time.Second, "how long the workers of a burst live at most")
	burstAfter = flag.Duration("burst-after", 0, "time before the first burst (default: -burst-every)")
	noise      = flag.Int("noise", 8, "request goroutines started every 50ms, each living up to 200ms")
)

var (
	leaked  atomic.Int64 // confirmation senders that will never finish
	inBurst atomic.Int64
	started = time.Now()
)

type orders struct{ n atomic.Int64 }

// confirm waits at most 20ms for the confirmation; the sender started for it
// blocks for good on its unbuffered channel when the deadline wins.
func (o *orders) confirm(id int64) bool {
	result := make(chan bool)
	go func() {
		ok := id%7 != 0
		time.Sleep(25 * time.Millisecond) // the mail gateway always answers too late
		leaked.Add(1)
		result <- ok
		leaked.Add(-1)
	}()
	select {
	case ok := <-result:
		return ok
	case <-time.After(20 * time.Millisecond):
		return false
	}
}

func (o *orders) run() {
	if *leakRate <= 0 {
		return
	}
	time.Sleep(*leakAfter)
	t := time.NewTicker(time.Duration(float64(time.Second) / *leakRate))
	defer t.Stop()
	for range t.C {
		go o.confirm(o.n.Add(1))
	}
}

// fanOut starts a burst of reindex workers; each returns within -burst-hold.
func fanOut(size int, hold time.Duration) {
	for i := 0; i < size; i++ {
		inBurst.Add(1)
		go func() {
			defer inBurst.Add(-1)
			select {
			case <-time.After(time.Duration(rand.Int64N(int64(hold)) + 1)):
			}
		}()
	}
}

func bursts() {
	if *burstEvery <= 0 {
		return
	}
	first := *burstAfter
	if first <= 0 {
		first = *burstEvery
	}
	time.Sleep(first)
	for {
		fanOut(*burstSize, *burstHold)
		time.Sleep(*burstEvery)
	}
}

func requests() {
	for range time.Tick(50 * time.Millisecond) {
		for i := 0; i < *noise; i++ {
			go func() { time.Sleep(time.Duration(rand.IntN(200)) * time.Millisecond) }()
		}
	}
}

func writeMetrics(w http.ResponseWriter, _ *http.Request) {
	s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(s)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	fmt.Fprintf(w, "# HELP go_goroutines Number of goroutines that currently exist.\n# TYPE go_goroutines gauge\ngo_goroutines %d\n",
		runtime.NumGoroutine())
	if s[0].Value.Kind() == metrics.KindUint64 {
		fmt.Fprintf(w, "# HELP go_sched_goroutines_created_goroutines_total Count of goroutines created since program start.\n"+
			"# TYPE go_sched_goroutines_created_goroutines_total counter\ngo_sched_goroutines_created_goroutines_total %d\n",
			s[0].Value.Uint64())
	}
	fmt.Fprintf(w, "# HELP leakwatch_leaked_goroutines Confirmation senders blocked for good.\n# TYPE leakwatch_leaked_goroutines gauge\nleakwatch_leaked_goroutines %d\n",
		leaked.Load())
	fmt.Fprintf(w, "# HELP leakwatch_burst_goroutines Reindex workers of bursts still running.\n# TYPE leakwatch_burst_goroutines gauge\nleakwatch_burst_goroutines %d\n",
		inBurst.Load())
	fmt.Fprintf(w, "# HELP leakwatch_uptime_seconds Seconds since the service started.\n# TYPE leakwatch_uptime_seconds gauge\nleakwatch_uptime_seconds %.3f\n",
		time.Since(started).Seconds())
}

func main() {
	flag.Parse()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	http.HandleFunc("/metrics", writeMetrics)
	srv := &http.Server{Handler: http.DefaultServeMux, ReadHeaderTimeout: 5 * time.Second}
	fmt.Printf("listening on http://%s\n", ln.Addr())
	o := &orders{}
	go o.run()
	go bursts()
	go requests()
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
