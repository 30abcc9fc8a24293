package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/internal/freeport"
)

// TestPprofAddr: --pprof-addr serves Go's heap profile on its own
// listener until the context ends; without the flag nothing listens.
func TestPprofAddr(t *testing.T) {
	t.Parallel()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := serverFlags{pprofAddr: addr}
	if err := f.servePprof(ctx, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/debug/pprof/heap?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "heap profile") {
		t.Fatalf("GET /debug/pprof/heap = %d %.80s", resp.StatusCode, body)
	}
	cancel()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := http.Get("http://" + addr + "/debug/pprof/"); err != nil {
			break // closed with the context
		}
		if time.Now().After(deadline) {
			t.Fatal("pprof still served after the context ended")
		}
	}
	if err := (&serverFlags{}).servePprof(context.Background(), slog.Default()); err != nil {
		t.Errorf("without --pprof-addr: %v", err)
	}
}
