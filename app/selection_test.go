package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/app"
	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/config"
)

// running is one app serving HTTP on a loopback port until stop.
type running struct {
	base string
	stop func()
}

func serve(t *testing.T, cfg app.Config) running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		if err := a.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}
	t.Cleanup(stop)
	return running{base: "http://" + ln.Addr().String(), stop: stop}
}

// stateOf polls GET /api/v1/freshness until key shows in state want.
func stateOf(t *testing.T, base string, key asset.Key, want string) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(base + "/api/v1/freshness")
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Assets []struct {
				Key   asset.Key `json:"key"`
				State string    `json:"state"`
			} `json:"assets"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		last = fmt.Sprint(body.Assets)
		for _, a := range body.Assets {
			if a.Key == key && a.State == want {
				return
			}
		}
	}
	t.Fatalf("%s never %s; last: %s", key, want, last)
}

// TestSelectionsCoverDiscoveredAssets: a key_prefix selection puts an SLA
// on tables first seen in events, at once and after a restart, and not on
// tables outside the prefix.
func TestSelectionsCoverDiscoveredAssets(t *testing.T) {
	t.Parallel()
	defs, err := config.Parse("sel.yaml", []byte(`
assets:
  - key: declared/one
freshness_policies:
  - select: {key_prefix: wh}
    max_lag: 1h
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg := app.Config{DataDir: t.TempDir(), Definitions: defs, Logger: quiet}
	srv := serve(t, cfg)
	old := time.Now().UTC().Add(-3 * time.Hour).Format(time.RFC3339)
	fresh := time.Now().UTC().Add(-10 * time.Minute).Format(time.RFC3339)
	body := fmt.Sprintf(`[{"kind":"materialization","asset":"wh/orders","time":%q},
{"kind":"materialization","asset":"wh/sales/daily","time":%q},
{"kind":"materialization","asset":"other/t","time":%q}]`, old, fresh, old)
	resp, err := http.Post(srv.base+"/api/v1/events", "application/json", strings.NewReader(body))
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST = %v %v", resp, err)
	}
	resp.Body.Close()
	stateOf(t, srv.base, "wh/orders", "FAIL")
	stateOf(t, srv.base, "wh/sales/daily", "PASS")
	check := func() {
		t.Helper()
		resp, err := http.Get(srv.base + "/api/v1/assets/other%2Ft/freshness")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var got map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
			t.Fatal(err)
		}
		if got["policy"] != nil {
			t.Errorf("other/t got a policy: %v", got["policy"])
		}
	}
	check()

	srv.stop()
	srv = serve(t, cfg)
	stateOf(t, srv.base, "wh/orders", "FAIL")
	stateOf(t, srv.base, "wh/sales/daily", "PASS")
	check()
}
