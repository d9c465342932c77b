package checkhealthy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"goforensics.test/leakcheck"
)

func TestWorkerStops(t *testing.T) {
	defer leakcheck.VerifyNone(t, leakcheck.CurrentIDs())
	ctx, cancel := context.WithCancel(context.Background())
	var w Worker
	w.Start(ctx, time.Millisecond)
	time.Sleep(5 * time.Millisecond)
	cancel()
	w.Wait()
}

func TestMap(t *testing.T) {
	defer leakcheck.VerifyNone(t, leakcheck.CurrentIDs())
	for _, n := range []int{1, 10} {
		t.Run("n", func(t *testing.T) {
			xs := make([]int, n)
			if got := Map(xs, func(x int) int { return x + 1 }); got[n-1] != 1 {
				t.Fatalf("got %v", got)
			}
		})
	}
}

func TestHTTPRoundTrip(t *testing.T) {
	defer leakcheck.VerifyNone(t, leakcheck.CurrentIDs())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ok" {
		t.Fatalf("body %q", body)
	}
}

func TestSignalNotify(t *testing.T) {
	defer leakcheck.VerifyNone(t, leakcheck.CurrentIDs())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGUSR1) // starts the os/signal goroutine, which stays (goleak ignores it)
	defer signal.Stop(ch)
}

func TestTimerStopped(t *testing.T) {
	defer leakcheck.VerifyNone(t, leakcheck.CurrentIDs())
	timer := time.AfterFunc(time.Hour, func() {})
	if !timer.Stop() {
		t.Fatal("timer already fired")
	}
}
