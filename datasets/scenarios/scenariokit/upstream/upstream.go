// Package upstream is the remote dependency of the scenario services: an HTTP
// server in a child process (the same binary, run with -role=upstream), so that
// its goroutines stay out of the service's dumps, as a real remote service's do.
//
// Each request chooses the behaviour through its query string:
//
//	?delay=20ms   answer after this long
//	?status=503   answer with this status
//	?size=2048    answer with a body of this many bytes (default 64)
//	?hang=1       never answer (until the client goes away)
package upstream

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

const roleFlag = "-role=upstream"

// MaybeServe serves as the upstream and exits if this process was started as one;
// call it first thing in main.
func MaybeServe() {
	for _, a := range os.Args[1:] {
		if a == roleFlag {
			serve()
			os.Exit(0)
		}
	}
}

func serve() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "upstream:", err)
		os.Exit(1)
	}
	// The parent holds our stdin: when it dies, the pipe closes and we go too.
	go func() {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	fmt.Printf("upstream http://%s\n", ln.Addr())
	srv := &http.Server{Handler: http.HandlerFunc(answer), ReadHeaderTimeout: 10 * time.Second}
	srv.Serve(ln)
}

func answer(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	io.Copy(io.Discard, r.Body)
	if q.Get("hang") == "1" {
		<-r.Context().Done()
		return
	}
	if d, err := time.ParseDuration(q.Get("delay")); err == nil {
		time.Sleep(d)
	}
	status, err := strconv.Atoi(q.Get("status"))
	if err != nil || status < 100 {
		status = http.StatusOK
	}
	size, err := strconv.Atoi(q.Get("size"))
	if err != nil || size < 0 {
		size = 64
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(size))
	w.WriteHeader(status)
	body := []byte(`{"ok":true,"pad":"` + strings.Repeat("x", 1<<12) + `"}`)
	for size > 0 {
		n := min(size, len(body))
		w.Write(body[:n])
		size -= n
	}
}

// Start runs this binary as the upstream in a child process and returns its base URL
// and a function that stops it.
func Start() (string, func(), error) {
	exe, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(exe, roleFlag)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return "", nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "upstream ")
	if err != nil || !ok {
		cmd.Process.Kill()
		return "", nil, errors.New("upstream did not start: " + line)
	}
	stop := func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	}
	return addr, stop, nil
}
