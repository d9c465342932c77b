// markup: goroutines whose pprof labels carry HTML and script, built from a directory whose
// path carries markup too (the test copies this program there), so that the dump it writes
// to stdout brings untrusted text into every place a report shows: labels in the goroutine
// headers, file paths in the frames.
//
// Every string a browser would run sets window.__gfPwned: a report that stays inert leaves
// it unset.
package main

import (
	"context"
	"os"
	"runtime/pprof"
	"time"
)

// Labels as an attacker controlling a request would set them (handler names, tenants).
var labels = [][2]string{
	{"handler", `<script>window.__gfPwned=1</script>`},
	{"tenant", `"><img src=x onerror="window.__gfPwned=2">`},
	{"<b>key</b>", `</title></style><svg onload=window.__gfPwned=3>`},
}

//go:noinline
func stuck(ch chan int) { <-ch }

//go:noinline
func leak(ch chan int) { ch <- 1 }

func main() {
	block := make(chan int)
	for i, kv := range labels {
		for j := 0; j <= i; j++ {
			go pprof.Do(context.Background(), pprof.Labels(kv[0], kv[1]), func(context.Context) {
				stuck(block)
			})
		}
	}
	for i := 0; i < 7; i++ {
		go leak(make(chan int))
	}
	time.Sleep(100 * time.Millisecond)
	pprof.Lookup("goroutine").WriteTo(os.Stdout, 2)
}
