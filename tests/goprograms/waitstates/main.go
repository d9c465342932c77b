// Command waitstates parks goroutines in every wait state a goroutine dump names, writes
// what it knows about each of them to a truth file, then writes a goroutine dump in the
// form asked for (or crashes in the way asked for).
//
// What each goroutine knows about itself comes from the runtime, not from a dump parser:
// its id from the first line of its own runtime.Stack, its entry function from
// runtime.Callers; the state it must be in, its labels, who started it and whether the
// goroutineleak profile must call it leaked are known by construction (the leak verdicts
// follow the expectations of Go's own runtime/goroutineleakprofile_test.go).
//
// Usage:
//
//	waitstates -truth truth.json -mode MODE [-o dump] [-leak1 f] [-leak0 f] [-leak2 f]
//
// MODE: debug2, debug1, debug0 (runtime/pprof "goroutine" profile), stack (runtime.Stack),
// leak (the goroutineleak profile to -leak1/-leak0/-leak2, then debug=2 to -o),
// panic, mapwrites (fatal error: concurrent map writes), sigquit (prints "ready" and
// waits for SIGQUIT); the crash modes write to stderr.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Record is the truth about one goroutine.
type Record struct {
	Goid      int64             `json:"goid"`
	Name      string            `json:"name"`
	State     string            `json:"state"`
	Entry     string            `json:"entry"`
	EntryAll  string            `json:"entry_all"`
	CreatedBy string            `json:"created_by"`
	Creator   int64             `json:"creator"`
	Labels    map[string]string `json:"labels"`
	Locked    bool              `json:"locked"`
	Leaked    bool              `json:"leaked"`
	Elided    bool              `json:"elided"`
	Ancestors []int64           `json:"ancestors"`
}

var (
	mu        sync.Mutex
	records   []*Record
	ready     sync.WaitGroup
	never     = make(chan int) // nothing is ever sent or received on these
	neverSend = make(chan int)
	held      sync.Mutex
	rwHeld    sync.RWMutex // write-locked by main: RLock waits
	rwRead    sync.RWMutex // read-locked by main: Lock waits
	wg        sync.WaitGroup
	condMu    sync.Mutex
	cond      = sync.NewCond(&condMu)
	conns     []net.Conn
	rawPipe   [2]int
)

// goid reads the id of the calling goroutine from the header of its own stack trace.
func goid() int64 {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	buf = bytes.TrimPrefix(buf, []byte("goroutine "))
	id, err := strconv.ParseInt(string(buf[:bytes.IndexByte(buf, ' ')]), 10, 64)
	if err != nil {
		panic(err)
	}
	return id
}

// entry is the outermost function of the calling goroutine outside package runtime, and
// the outermost one of all (runtime.main for the main goroutine), as the runtime names them.
func entry() (string, string) {
	pcs := make([]uintptr, 4096)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(0, pcs)])
	user, all := "", ""
	for {
		f, more := frames.Next()
		if f.Function != "runtime.goexit" {
			all = f.Function
			if !strings.HasPrefix(f.Function, "runtime.") {
				user = f.Function
			}
		}
		if !more {
			return user, all
		}
	}
}

// here is the name of the calling function: where a go statement runs.
func here() string {
	pc, _, _, _ := runtime.Caller(1)
	return runtime.FuncForPC(pc).Name()
}

// parked records the calling goroutine, says it is ready, then blocks with block().
func parked(r *Record, block func()) {
	r.Goid = goid()
	r.Entry, r.EntryAll = entry()
	mu.Lock()
	records = append(records, r)
	mu.Unlock()
	ready.Done()
	block()
}

func chanRecv(r *Record) { parked(r, func() { <-never }) }
func chanSend(r *Record) { parked(r, func() { neverSend <- 1 }) }
func nilRecv(r *Record)  { parked(r, func() { var c chan int; <-c }) }
func nilSend(r *Record)  { parked(r, func() { var c chan int; c <- 1 }) }
func selectTwo(r *Record) {
	parked(r, func() {
		select {
		case <-never:
		case neverSend <- 2:
		}
	})
}
func selectNone(r *Record) { parked(r, func() { select {} }) }
func sleeper(r *Record)    { parked(r, func() { time.Sleep(time.Hour) }) }
func mutexLock(r *Record)  { parked(r, func() { held.Lock() }) }
func rwRLock(r *Record)    { parked(r, func() { rwHeld.RLock() }) }
func rwLock(r *Record)     { parked(r, func() { rwRead.Lock() }) }
func wgWait(r *Record)     { parked(r, func() { wg.Wait() }) }
func condWait(r *Record)   { parked(r, func() { condMu.Lock(); cond.Wait() }) }
func localChan(r *Record)  { parked(r, func() { <-make(chan int) }) }
func lockedWait(r *Record) { runtime.LockOSThread(); parked(r, func() { <-never }) }
func labelled(r *Record)   { parked(r, func() { <-never }) }

func ioWait(r *Record) {
	c := conns[0]
	parked(r, func() { c.Read(make([]byte, 1)) })
}

func inSyscall(r *Record) {
	parked(r, func() { syscall.Read(rawPipe[0], make([]byte, 1)) })
}

//go:noinline
func deep(r *Record, n int) {
	if n > 0 {
		deep(r, n-1)
		return
	}
	parked(r, func() { <-never })
}

func recursive(r *Record) { deep(r, 300) }

// spawner starts a child from a goroutine other than main: 'created by ... in goroutine N'.
func spawner(r *Record, child *Record) {
	child.Creator, child.CreatedBy = goid(), here()
	go chanRecv(child)
	parked(r, func() { <-never })
}

// deepSpawner starts a child from 60 frames down: with tracebackancestors, the ancestor's
// traceback is cut with '...additional frames elided...'.
//
//go:noinline
func deepSpawner(r *Record, child *Record, n int) {
	if n > 0 {
		deepSpawner(r, child, n-1)
		return
	}
	child.Creator, child.CreatedBy = goid(), here()
	go chanRecv(child)
	parked(r, func() { <-never })
}

// start starts f in a goroutine that must end up in state.
func start(name, state string, f func(*Record), leaked bool, creator int64) *Record {
	r := &Record{Name: name, State: state, CreatedBy: here(), Creator: creator, Leaked: leaked}
	ready.Add(1)
	go f(r)
	return r
}

func write(path string, b []byte) {
	if err := os.WriteFile(path, b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
}

func profile(name string, debug int) []byte {
	var b bytes.Buffer
	if err := pprof.Lookup(name).WriteTo(&b, debug); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	return b.Bytes()
}

func main() {
	truth := flag.String("truth", "truth.json", "where to write the truth")
	mode := flag.String("mode", "debug2", "dump form or crash")
	out := flag.String("o", "dump.txt", "dump file")
	leak1 := flag.String("leak1", "", "goroutineleak debug=1 profile (mode leak)")
	leak0 := flag.String("leak0", "", "goroutineleak debug=0 profile (mode leak)")
	leak2 := flag.String("leak2", "", "goroutineleak debug=2 profile (mode leak)")
	flag.Parse()

	held.Lock()
	rwHeld.Lock()
	rwRead.RLock()
	wg.Add(1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		panic(err)
	}
	server, err := ln.Accept()
	if err != nil {
		panic(err)
	}
	conns = []net.Conn{server, client}
	if err := syscall.Pipe(rawPipe[:]); err != nil {
		panic(err)
	}

	me := &Record{Name: "main", Goid: goid()}
	me.Entry, me.EntryAll = entry()
	c := me.Goid
	start("chanRecv", "chan receive", chanRecv, false, c)
	start("chanSend", "chan send", chanSend, false, c)
	start("nilRecv", "chan receive (nil chan)", nilRecv, true, c)
	start("nilSend", "chan send (nil chan)", nilSend, true, c)
	start("selectTwo", "select", selectTwo, false, c)
	start("selectNone", "select (no cases)", selectNone, true, c)
	start("mutexLock", "sync.Mutex.Lock", mutexLock, false, c)
	start("rwRLock", "sync.RWMutex.RLock", rwRLock, false, c)
	start("rwLock", "sync.RWMutex.Lock", rwLock, false, c)
	start("wgWait", "sync.WaitGroup.Wait", wgWait, false, c)
	start("condWait", "sync.Cond.Wait", condWait, false, c)
	start("localChan", "chan receive", localChan, true, c)
	start("sleeper", "sleep", sleeper, false, c)
	start("ioWait", "IO wait", ioWait, false, c)
	start("inSyscall", "syscall", inSyscall, false, c)
	start("recursive", "chan receive", recursive, false, c).Elided = true
	start("lockedWait", "chan receive", lockedWait, false, c).Locked = true

	// labels: pprof.Do runs the function literal in this goroutine; the go statement is in it
	labels := map[string]string{"handler": "/api/v1", "tenant": "t-3 b", "req id": "q\"1"}
	pprof.Do(context.Background(), pprof.Labels("handler", "/api/v1", "tenant", "t-3 b", "req id", "q\"1"),
		func(context.Context) { start("labelled", "chan receive", labelled, false, c).Labels = labels })

	// a goroutine started by a goroutine other than main, and one started 60 frames down
	sp := start("spawner", "chan receive", func(r *Record) { spawner(r, &Record{Name: "child", State: "chan receive"}) }, false, c)
	dsp := start("deepSpawner", "chan receive", func(r *Record) { deepSpawner(r, &Record{Name: "deepChild", State: "chan receive"}, 60) }, false, c)
	_, _ = sp, dsp
	ready.Add(2) // the two children

	ready.Wait()
	time.Sleep(500 * time.Millisecond) // let every goroutine reach its blocking call

	// GODEBUG=tracebackancestors=N: each goroutine's creators, nearest first, up to main
	if strings.Contains(os.Getenv("GODEBUG"), "tracebackancestors") {
		byID := map[int64]*Record{me.Goid: me}
		for _, r := range records {
			byID[r.Goid] = r
		}
		for _, r := range records {
			for a := byID[r.Creator]; a != nil; a = byID[a.Creator] {
				r.Ancestors = append(r.Ancestors, a.Goid)
				if a == me {
					break
				}
			}
			if r.Name == "deepChild" {
				r.Elided = true // its creator's 60-frame traceback is cut at 50
			}
		}
	}

	switch *mode {
	case "panic", "mapwrites", "sigquit":
	default:
		me.State = "running"
	}
	finish := func() {
		all := append([]*Record{me}, records...)
		b, _ := json.MarshalIndent(map[string]any{
			"goroutines":    all,
			"num_goroutine": runtime.NumGoroutine(),
			"mode":          *mode,
		}, "", " ")
		write(*truth, b)
	}

	switch *mode {
	case "debug2", "debug1", "debug0":
		d, _ := strconv.Atoi((*mode)[5:])
		finish()
		write(*out, profile("goroutine", d))
	case "stack":
		finish()
		buf := make([]byte, 1<<20)
		write(*out, buf[:runtime.Stack(buf, true)])
	case "leak":
		finish()
		if *leak1 != "" {
			write(*leak1, profile("goroutineleak", 1))
		}
		if *leak0 != "" {
			write(*leak0, profile("goroutineleak", 0))
		}
		if *leak2 != "" {
			write(*leak2, profile("goroutineleak", 2))
		}
		write(*out, profile("goroutine", 2))
	case "panic":
		finish()
		panic("waitstates: deliberate panic")
	case "mapwrites":
		finish()
		m := map[int]int{}
		go func() {
			for i := 0; ; i++ {
				m[i%7] = i
			}
		}()
		for i := 0; ; i++ {
			m[i%5] = i
		}
	case "sigquit":
		finish()
		fmt.Println("ready")
		<-never
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", *mode)
		os.Exit(2)
	}
}
