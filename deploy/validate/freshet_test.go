package validate

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/internal/kubetest"
)

// The freshet binary, built once per test run exactly as the Dockerfile
// builds it (static, -trimpath, the version stamped), so the build flags
// the image relies on are exercised too.
var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
	buildDir  string
)

const testVersion = "v0.0.0-deploytest"

func TestMain(m *testing.M) {
	// Helm's loader logs, through the standard logger, that it follows
	// files/freshet-rules.yml, the link to deploy/prometheus/: expected.
	log.SetOutput(io.Discard)
	code := m.Run()
	if err := kubetest.StopShared(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

func freshetBin(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		root := repoRoot(t)
		buildDir, buildErr = os.MkdirTemp("", "freshet-deploy-")
		if buildErr != nil {
			return
		}
		buildBin = filepath.Join(buildDir, "freshet")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version="+testVersion, "-o", buildBin, "./cmd/freshet")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("CGO_ENABLED=0 go build ./cmd/freshet (as deploy/docker/Dockerfile does): %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildBin
}

// serveFlags are the flags `freshet serve --help` lists.
func serveFlags(t *testing.T) map[string]bool {
	t.Helper()
	out := run(t, "", freshetBin(t), "serve", "--help")
	flags := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s+(?:-\w, )?--([a-z][a-z0-9-]*)`).FindAllStringSubmatch(out, -1) {
		flags[m[1]] = true
	}
	if !flags["data-dir"] || !flags["store"] || !flags["insecure"] {
		t.Fatalf("could not read the flags of freshet serve --help:\n%s", out)
	}
	return flags
}

// server is a running freshet process on a loopback port.
type server struct {
	base string
	logs *strings.Builder
}

// startFreshet runs the binary with args plus --addr on a free loopback
// port and waits until /readyz answers 200. The process is killed when the
// test ends.
func startFreshet(t *testing.T, args ...string) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, freshetBin(t), append(args, "--addr", addr)...)
	logs := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = &syncWriter{w: logs}, &syncWriter{w: logs}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	s := &server{base: "http://" + addr, logs: logs}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		select {
		case <-done:
			t.Fatalf("freshet %v exited before it was ready:\n%s", args, s.log())
		default:
		}
		resp, err := http.Get(s.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("freshet %v not ready after 2 minutes:\n%s", args, s.log())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

var logMu sync.Mutex

func (s *server) log() string {
	logMu.Lock()
	defer logMu.Unlock()
	return s.logs.String()
}

type syncWriter struct{ w *strings.Builder }

func (s *syncWriter) Write(p []byte) (int, error) {
	logMu.Lock()
	defer logMu.Unlock()
	return s.w.Write(p)
}
