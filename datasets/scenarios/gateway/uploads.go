package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"time"

	"example.com/scenariokit/groundtruth"
	"example.com/scenariokit/platform"
)

// serveUploads starts the legacy upload server. The bug: no ReadHeaderTimeout,
// ReadTimeout or IdleTimeout, so a client that stops sending keeps its
// connection's goroutine for ever.
func serveUploads() string {
	ln := platform.Listen()
	srv := &http.Server{Handler: http.HandlerFunc(upload)}
	go func() {
		defer groundtruth.TrackParent("upload-server", "accept", "upload-no-timeouts")()
		srv.Serve(ln)
	}()
	return ln.Addr().String()
}

func upload(w http.ResponseWriter, r *http.Request) {
	n, err := io.Copy(io.Discard, r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	fmt.Fprintf(w, "stored %d bytes\n", n)
}

// slowClients opens a connection to the upload server now and then and stops
// sending half-way: in its headers, or in its body. It keeps them all open.
func slowClients(addr string) {
	defer groundtruth.Track("loadgen", "slow-clients")()
	var held []net.Conn
	for {
		time.Sleep(time.Duration(500+rand.IntN(700)) * time.Millisecond)
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			continue
		}
		if rand.IntN(3) < 2 {
			fmt.Fprintf(c, "POST /upload HTTP/1.1\r\nHost: uploads\r\nContent-Type: image/jpeg\r\n")
		} else {
			fmt.Fprintf(c, "POST /upload HTTP/1.1\r\nHost: uploads\r\nContent-Length: 65536\r\n\r\n%s", make([]byte, 512))
		}
		held = append(held, c)
	}
}
