// Package platform is the little in-house library every scenario service links:
// the debug server (net/http/pprof and the ground truth) and the wait for a stop signal.
package platform

import (
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof" // the profiles the capture reads
	"os"
	"os/signal"
	"syscall"
	"time"

	"example.com/scenariokit/groundtruth"
)

// Listen opens a loopback listener on a free port or exits.
func Listen() net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	return ln
}

// ServeDebug serves net/http/pprof and /debug/truth on their own port and prints
// "debug http://ADDR" (the first line a scenario prints).
func ServeDebug() string {
	groundtruth.Declare("", groundtruth.Cause{Name: "debug-server", Pattern: "http-server",
		About: "the debug server (net/http/pprof, /debug/truth) and the capture's own requests to it"})
	ln := Listen()
	http.Handle("/debug/truth", groundtruth.Handler())
	srv := &http.Server{Handler: http.DefaultServeMux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		defer groundtruth.TrackParent("debug-server", "accept", "debug-server")()
		srv.Serve(ln)
	}()
	fmt.Printf("debug http://%s\n", ln.Addr())
	return ln.Addr().String()
}

// WaitForStop blocks until SIGINT or SIGTERM, then runs the cleanups.
func WaitForStop(cleanups ...func()) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	for _, f := range cleanups {
		f()
	}
}
