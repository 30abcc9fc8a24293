package kube_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/executor/kube"
	"github.com/freshet-dev/freshet/internal/freeport"
	"github.com/freshet-dev/freshet/internal/kubetest"
)

// TestServeRunsStepsAsJobs: the real freshet binary, with an executor
// block naming the test's cluster, runs a step launched through the API
// as a Job, and the run succeeds once the Job is Complete.
func TestServeRunsStepsAsJobs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := kubetest.Shared(t)
	bin := buildFreshet(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "freshet.yaml")
	cfg := fmt.Sprintf(`executor:
  launcher: kubernetes
  kubernetes:
    namespace: %s
    image: busybox:1.37
    kubeconfig: %s
    instance: e2e
    labels: {team: data}
assets:
  - key: marts/revenue
    materialize:
      argv: [sh, -c, "echo built"]
      env: {MODE: full}
`, e.ns, c.Kubeconfig)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "check-config", cfgPath).CombinedOutput(); err != nil {
		t.Fatalf("freshet check-config: %v\n%s", err, out)
	}
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	srv := exec.Command(bin, "serve", "--config", cfgPath, "--data-dir", filepath.Join(dir, "data"), "--addr", addr)
	srv.Stdout, srv.Stderr = &logs, &logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = srv.Process.Signal(syscall.SIGTERM)
		_ = srv.Wait()
		if t.Failed() {
			t.Logf("freshet serve's log:\n%s", logs.String())
		}
	})
	base := "http://" + addr
	waitReady(t, base)

	resp, err := http.Post(base+"/api/v1/runs", "application/json", strings.NewReader(`{"selection": ["marts/revenue"]}`))
	if err != nil {
		t.Fatal(err)
	}
	var run struct{ ID, Status string }
	err = json.NewDecoder(resp.Body).Decode(&run)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated || run.ID == "" {
		t.Fatalf("POST /api/v1/runs: %d %+v %v", resp.StatusCode, run, err)
	}
	got := e.waitJob(t, kube.LabelRun+"="+kube.RunLabel(run.ID)+","+kube.LabelInstance+"=e2e,team=data")
	ctr := got.Spec.Template.Spec.Containers[0]
	if !slices.Equal(ctr.Command, []string{"sh", "-c", "echo built"}) || ctr.Image != "busybox:1.37" {
		t.Errorf("container %+v", ctr)
	}
	env := map[string]string{}
	for _, v := range ctr.Env {
		env[v.Name] = v.Value
	}
	if env["MODE"] != "full" || env["FRESHET_RUN_ID"] != run.ID || env["DAGSTER_PIPES_CONTEXT"] == "" || env["DAGSTER_PIPES_MESSAGES"] == "" {
		t.Errorf("env %v: want MODE, FRESHET_RUN_ID and the Pipes variables", env)
	}
	e.finish(t, got, true, "CompletionsReached")

	end := time.Now().Add(deadline)
	for {
		resp, err := http.Get(base + "/api/v1/runs/" + run.ID)
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&run)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if run.Status == "SUCCESS" {
			return
		}
		if run.Status == "FAILURE" || time.Now().After(end) {
			t.Fatalf("run %s is %s; want SUCCESS", run.ID, run.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var build struct {
	once sync.Once
	bin  string
	err  error
}

// buildFreshet builds cmd/freshet once for the test binary.
func buildFreshet(t *testing.T) string {
	t.Helper()
	build.once.Do(func() {
		_, self, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(self), "..", "..")
		dir, err := os.MkdirTemp("", "freshet-kube-")
		if err != nil {
			build.err = err
			return
		}
		build.bin = filepath.Join(dir, "freshet")
		cmd := exec.Command("go", "build", "-o", build.bin, "./cmd/freshet")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build ./cmd/freshet: %v\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.bin
}

func waitReady(t *testing.T, base string) {
	t.Helper()
	end := time.Now().Add(deadline)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
		resp, err := http.DefaultClient.Do(req)
		cancel()
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(end) {
			t.Fatalf("freshet serve not ready within %s: %v", deadline, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for the server's two output streams.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
