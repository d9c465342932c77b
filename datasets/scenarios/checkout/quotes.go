package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"

	"time"

	"example.com/scenariokit/groundtruth"
)

// staleAfter is how long a quote stays watched. The watcher was meant to stop
// with the request; it waits on time.After instead and never looks at ctx.
const staleAfter = 5 * time.Minute

func (s *server) quote(w http.ResponseWriter, r *http.Request) {
	sku := r.PathValue("sku")
	updates := make(chan float64, 1)
	go s.watchPrice(r.Context(), sku, updates)
	price := listPrice(sku)
	updates <- price
	fmt.Fprintf(w, `{"sku":%q,"price":%.2f}`, sku, price)
}

func (s *server) watchPrice(ctx context.Context, sku string, updates <-chan float64) {
	defer groundtruth.Track("quote-watch-time-after", "watcher")()
	var last float64
	for {
		select {
		case p := <-updates:
			if last != 0 && math.Abs(p-last)/last > 0.05 {
				fmt.Fprintln(discard{}, "price moved", sku)
			}
			last = p
		case <-time.After(staleAfter):
			return
		}
		if last > 100 { // expensive items also wait for the next repricing run
			select {
			case <-s.reprice:
			case <-time.After(staleAfter):
				return
			}
		}
	}
}

func listPrice(sku string) float64 {
	return 10 + rand.Float64()*180
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
