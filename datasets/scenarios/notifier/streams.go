package main

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"example.com/scenariokit/groundtruth"
)

// streams are data sessions: the client asks for one, then fetches its data
// from a listener opened for it.
type streams struct {
	mu       sync.Mutex
	sessions map[int]*session
	next     int
}

type session struct {
	id    int
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newStreams() *streams { return &streams{sessions: map[int]*session{}} }

func (st *streams) open(w http.ResponseWriter, r *http.Request) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	st.mu.Lock()
	st.next++
	s := &session{id: st.next, ln: ln}
	st.sessions[s.id] = s
	st.mu.Unlock()
	go s.acceptData()
	fmt.Fprintf(w, "%d %s\n", s.id, ln.Addr())
}

// end closes the session's connections; the bug: not its listener (s.ln.Close() is missing).
func (st *streams) end(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.Atoi(r.PathValue("id"))
	st.mu.Lock()
	s := st.sessions[id]
	delete(st.sessions, id)
	st.mu.Unlock()
	if s == nil {
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
}

func (s *session) acceptData() {
	defer groundtruth.Track("stream-listener-never-closed", "accept")()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		go pump(c)
	}
}

func pump(c net.Conn) {
	defer groundtruth.Track("stream-pump", "pump")()
	defer c.Close()
	w := bufio.NewWriter(c)
	for i := 0; i < 20; i++ {
		fmt.Fprintf(w, "frame %d %s\n", i, strings.Repeat("x", 64))
	}
	w.Flush()
}

// openStreams opens a stream session now and then, reads its data and ends it.
func openStreams(base string) {
	defer groundtruth.Track("loadgen", "streams")()
	c := client("loadgen", 2*time.Second)
	for {
		time.Sleep(time.Duration(1200+rand.IntN(800)) * time.Millisecond)
		resp, err := c.Post(base+"/streams", "text/plain", nil)
		if err != nil {
			continue
		}
		var id int
		var addr string
		fmt.Fscan(resp.Body, &id, &addr)
		drain(resp)
		if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			conn.SetDeadline(time.Now().Add(2 * time.Second))
			io.Copy(io.Discard, conn)
			conn.Close()
		}
		req, _ := http.NewRequest("DELETE", base+"/streams/"+strconv.Itoa(id), nil)
		if resp, err := c.Do(req); err == nil {
			drain(resp)
		}
	}
}

func drain(resp *http.Response) {
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}
