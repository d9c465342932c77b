// ctxleak: two leaks that grow over a recorded series, as in real services:
//
//   - "context-never-cancelled": contexts derived (WithCancel) from a parent of a custom
//     Context type and never cancelled; for such parents package context starts a goroutine
//     per child that waits for either to be done (context.(*cancelCtx).propagateCancel);
//   - "io-no-deadline": a client reading replies from a peer that never answers, with no
//     read deadline;
//
// plus a healthy accept loop. Usage: ctxleak OUTDIR [SNAPSHOTS] [INTERVAL]
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"time"
)

// sessionCtx is a framework's own Context implementation (a long-lived session); package
// context cannot see a cancelCtx inside it, so it watches it with a goroutine per child.
type sessionCtx struct{ done chan struct{} }

func (c *sessionCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c *sessionCtx) Done() <-chan struct{}       { return c.done }
func (c *sessionCtx) Err() error                  { return nil }
func (c *sessionCtx) Value(any) any               { return nil }

var cancels []context.CancelFunc // kept, never called

//go:noinline
func handle(parent context.Context) {
	ctx, cancel := context.WithCancel(parent)
	cancels = append(cancels, cancel) // the request ends; nobody calls cancel
	_ = ctx
}

//go:noinline
func readReply(addr string) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return
	}
	fmt.Fprintf(c, "PING\n")
	bufio.NewReader(c).ReadString('\n') // no deadline: the peer never answers
}

// silent accepts connections and never writes back.
func silent(l net.Listener) {
	var conns []net.Conn
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		conns = append(conns, c)
	}
}

type snap struct {
	File    string `json:"file"`
	TakenAt string `json:"taken_at"`
	Round   int    `json:"round"`
}

func main() {
	out := os.Args[1]
	n, interval := 6, 300*time.Millisecond
	if len(os.Args) > 2 {
		n, _ = strconv.Atoi(os.Args[2])
	}
	if len(os.Args) > 3 {
		interval, _ = time.ParseDuration(os.Args[3])
	}
	os.MkdirAll(out, 0o755)
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	go silent(l)
	root := &sessionCtx{done: make(chan struct{})}
	var snaps []snap
	for tick := 0; tick < n; tick++ {
		for i := 0; i < 5; i++ {
			handle(root)
		}
		for i := 0; i < 3; i++ {
			go readReply(l.Addr().String())
		}
		time.Sleep(interval / 2)
		name := fmt.Sprintf("snap-%02d.txt", tick)
		f, _ := os.Create(filepath.Join(out, name))
		pprof.Lookup("goroutine").WriteTo(f, 2)
		f.Close()
		snaps = append(snaps, snap{name, time.Now().UTC().Format(time.RFC3339Nano), tick})
		b, _ := json.MarshalIndent(map[string]any{"instance": "ctxleak", "snapshots": snaps}, "", " ")
		os.WriteFile(filepath.Join(out, "manifest.json"), b, 0o644)
		time.Sleep(interval / 2)
	}
}
