package receiver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/alerts/receivertest"
	"github.com/freshet-dev/freshet/internal/freeport"
)

// alertmanagerNotFound is the failure (never a skip) when the binary is
// missing, so a machine without it is noticed.
const alertmanagerNotFound = "Alertmanager not found (prometheus-alertmanager or alertmanager in PATH): run scripts/ensure-alertmanager.sh (make test does this), or apt-get install prometheus-alertmanager"

// startAlertmanager runs a private Alertmanager (Debian's
// prometheus-alertmanager) on a free loopback port, clustering off, with a
// temporary storage dir, and returns its base URL.
func startAlertmanager(t *testing.T) string {
	t.Helper()
	bin := ""
	for _, name := range []string{"prometheus-alertmanager", "alertmanager"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Fatal(alertmanagerNotFound)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte("route:\n  receiver: blackhole\n  group_wait: 1s\nreceivers:\n  - name: blackhole\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ports, err := freeport.Get(1)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	cmd := exec.Command(bin,
		"--config.file="+cfg,
		"--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--cluster.listen-address=", // no gossip port: one private instance
		"--log.level=warn",
	)
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		select {
		case <-exited:
			t.Fatalf("%s exited: %s", bin, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready on %s after 30s: %v\n%s", bin, addr, err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// gettableAlert is the part of GET /api/v2/alerts the test reads.
type gettableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Status       struct {
		State string `json:"state"`
	} `json:"status"`
}

func getAlerts(ctx context.Context, t *testing.T, base string) []gettableAlert {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v2/alerts", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var as []gettableAlert
	if err := json.NewDecoder(resp.Body).Decode(&as); err != nil {
		t.Fatalf("GET /api/v2/alerts: %v", err)
	}
	return as
}

// TestAlertmanagerRealServer pushes to a real Alertmanager and reads the
// alert back through its API; then resolves it and sees it go.
func TestAlertmanagerRealServer(t *testing.T) {
	t.Parallel()
	base := startAlertmanager(t)
	ctx := t.Context()
	a := newTestAlertmanager(t, quiet(), base)
	n := receivertest.Sample("orders-fresh:raw/orders")
	n.StartsAt = time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := a.Send(ctx, n); err != nil {
		t.Fatal(err)
	}
	as := getAlerts(ctx, t, base)
	if len(as) != 1 {
		t.Fatalf("GET /api/v2/alerts: %d alerts, want 1: %+v", len(as), as)
	}
	got := as[0]
	for k, v := range map[string]string{"alertname": "orders-fresh", "asset": "marts/revenue", "root_cause": "raw/orders",
		"rule": "orders-fresh", "severity": "critical", "group": "sales", "dedup_key": n.Key} {
		if got.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, got.Labels[k], v)
		}
	}
	if got.Annotations["summary"] != n.Summary || got.Annotations["impacted"] != "staging/orders, marts/revenue, marts/daily_kpis" {
		t.Errorf("annotations %v", got.Annotations)
	}
	if got.Status.State != "active" || !got.StartsAt.Equal(n.StartsAt) || got.GeneratorURL != n.Links["asset"] {
		t.Errorf("state %q startsAt %v generatorURL %q", got.Status.State, got.StartsAt, got.GeneratorURL)
	}

	if err := a.Send(ctx, receivertest.Resolve(n, time.Now())); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(getAlerts(ctx, t, base)) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("resolved alert still listed: %+v", getAlerts(ctx, t, base))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
