// Package kubetest runs a private Kubernetes control plane for tests: etcd
// and a real kube-apiserver on free loopback ports, with their data in a
// temporary directory. There is no kubelet, scheduler or controller
// manager: objects are stored, validated, admitted and watched as in a
// real cluster, but a Job never gets a Pod and nothing updates a Job's
// status unless the test does.
//
// etcd comes from Debian's etcd-server package and kube-apiserver is built
// from the wrapper module in ./apiserver; scripts/ensure-kube-apiserver.sh
// (which `make test` runs) installs both. When either is missing a test
// fails with a message naming that script, never skips.
//
// It uses only the standard library (and internal/freeport, which does
// too), so modules of their own (such as
// deploy/validate) can use it without taking client-go's version from
// Freshet: callers connect with Kubeconfig, or with Host, CAFile,
// CertFile and KeyFile.
//
// Use Shared in tests and Main as TestMain, so one control plane serves
// the test binary and is stopped when it ends:
//
//	func TestMain(m *testing.M) { kubetest.Main(m) }
package kubetest

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/internal/freeport"
)

// Environment variables that point the harness at binaries elsewhere than
// where the ensure script puts them.
const (
	EnvAPIServer = "FRESHET_KUBE_APISERVER" // path of kube-apiserver
	EnvEtcd      = "FRESHET_ETCD"           // path of etcd
	EnvCache     = "FRESHET_CACHE"          // the ensure script's cache root
)

const ensureHint = "run scripts/ensure-kube-apiserver.sh (make test does this)"

// Cluster is a running etcd and kube-apiserver.
type Cluster struct {
	// Host is the API server's URL (https://127.0.0.1:PORT).
	Host string
	// Kubeconfig is a kubeconfig file for a cluster admin (a client
	// certificate in group system:masters).
	Kubeconfig string
	// CAFile verifies the server; CertFile and KeyFile are the admin's
	// client certificate.
	CAFile, CertFile, KeyFile string
	// ServingCertFile and ServingKeyFile are a certificate for 127.0.0.1
	// signed by CAFile, which the API server trusts for kubelets: a test
	// can serve a fake kubelet's endpoints (/containerLogs) with it, for a
	// Node object whose address is 127.0.0.1.
	ServingCertFile, ServingKeyFile string
	// Version is the server's git version, e.g. v1.37.2.
	Version string
	// StartTime is how long etcd and the API server took to start and
	// answer /readyz.
	StartTime time.Duration

	dir      string
	procs    []*proc // in start order; stopped in reverse
	stopOnce sync.Once
	stopErr  error
}

// The shared control plane of this test binary. A package variable is the
// only way for independent tests to share one; Main stops it.
var shared struct {
	once sync.Once
	c    *Cluster
	err  error
}

// Shared returns the test binary's control plane, starting it on first
// use. Tests share it: give each its own namespace.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		shared.c, shared.err = Start(ctx)
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.c
}

// Main runs the package's tests and then stops the shared control plane,
// which would otherwise outlive the test binary (Pdeathsig also stops it
// if the binary dies). Use it as TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if err := StopShared(); err != nil {
		fmt.Fprintln(os.Stderr, "kubetest:", err)
	}
	os.Exit(code)
}

// StopShared stops the shared control plane, if one was started: for a
// TestMain that has more to do than Main.
func StopShared() error {
	if shared.c == nil {
		return nil
	}
	return shared.c.Stop()
}

// Binaries returns the paths of etcd and kube-apiserver: the environment's
// FRESHET_ETCD and FRESHET_KUBE_APISERVER, else etcd on PATH and the
// kube-apiserver that scripts/ensure-kube-apiserver.sh built for the
// version in apiserver/go.mod.
func Binaries() (etcd, apiserver string, err error) {
	etcd = os.Getenv(EnvEtcd)
	if etcd == "" {
		if etcd, err = exec.LookPath("etcd"); err != nil {
			return "", "", fmt.Errorf("kubetest: etcd not found (Debian package etcd-server): %s", ensureHint)
		}
	}
	apiserver = os.Getenv(EnvAPIServer)
	if apiserver == "" {
		if apiserver, err = cachedAPIServer(); err != nil {
			return "", "", err
		}
	}
	if _, err := os.Stat(apiserver); err != nil {
		return "", "", fmt.Errorf("kubetest: kube-apiserver: %w: %s", err, ensureHint)
	}
	return etcd, apiserver, nil
}

// cachedAPIServer is where the ensure script puts kube-apiserver:
// $FRESHET_CACHE or $XDG_CACHE_HOME/freshet or ~/.cache/freshet, then
// kube-apiserver-<version>/kube-apiserver.
func cachedAPIServer() (string, error) {
	version, err := APIServerVersion()
	if err != nil {
		return "", err
	}
	root := os.Getenv(EnvCache)
	if root == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("kubetest: %w", err)
		}
		root = filepath.Join(c, "freshet")
	}
	return filepath.Join(root, "kube-apiserver-"+version, "kube-apiserver"), nil
}

// APIServerVersion is the k8s.io/kubernetes version that apiserver/go.mod
// builds, read from that file next to this one.
func APIServerVersion() (string, error) {
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("kubetest: cannot locate its own source")
	}
	path := filepath.Join(filepath.Dir(self), "apiserver", "go.mod")
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("kubetest: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) >= 2 && fs[0] == "require" {
			fs = fs[1:]
		}
		if len(fs) >= 2 && fs[0] == "k8s.io/kubernetes" && strings.HasPrefix(fs[1], "v") {
			return fs[1], nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("kubetest: read %s: %w", path, err)
	}
	return "", fmt.Errorf("kubetest: no k8s.io/kubernetes requirement in %s", path)
}

// Start starts etcd and kube-apiserver and waits until the API server is
// ready. Stop them with Stop.
func Start(ctx context.Context) (*Cluster, error) {
	etcdBin, apiBin, err := Binaries()
	if err != nil {
		return nil, err
	}
	begin := time.Now()
	dir, err := os.MkdirTemp("", "kubetest-")
	if err != nil {
		return nil, fmt.Errorf("kubetest: %w", err)
	}
	c := &Cluster{dir: dir}
	if err := c.start(ctx, etcdBin, apiBin); err != nil {
		_ = c.Stop()
		return nil, err
	}
	c.StartTime = time.Since(begin)
	return c, nil
}

func (c *Cluster) start(ctx context.Context, etcdBin, apiBin string) error {
	// Below the ephemeral range: the API server's own connections to etcd
	// draw from it and could take a port between choosing and binding.
	ports, err := freeport.Low(3)
	if err != nil {
		return err
	}
	etcdClient, etcdPeer, apiPort := ports[0], ports[1], ports[2]
	pki, err := writePKI(c.dir)
	if err != nil {
		return err
	}
	c.Host = "https://127.0.0.1:" + strconv.Itoa(apiPort)
	c.CAFile, c.CertFile, c.KeyFile = pki.ca, pki.adminCert, pki.adminKey
	c.ServingCertFile, c.ServingKeyFile = pki.serverCert, pki.serverKey
	c.Kubeconfig = filepath.Join(c.dir, "kubeconfig")
	if err := os.WriteFile(c.Kubeconfig, []byte(kubeconfig(c)), 0o600); err != nil {
		return fmt.Errorf("kubetest: %w", err)
	}

	etcdURL := "http://127.0.0.1:" + strconv.Itoa(etcdClient)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(etcdPeer)
	etcd, err := startProc(c.dir, "etcd", []string{etcdBin,
		"--name=kubetest", "--data-dir=" + filepath.Join(c.dir, "etcd"),
		"--listen-client-urls=" + etcdURL, "--advertise-client-urls=" + etcdURL,
		"--listen-peer-urls=" + peerURL, "--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=kubetest=" + peerURL,
		"--log-level=warn",
	})
	if err != nil {
		return err
	}
	c.procs = append(c.procs, etcd)
	api, err := startProc(c.dir, "kube-apiserver", []string{apiBin,
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(apiPort),
		"--cert-dir=" + filepath.Join(c.dir, "apiserver"),
		"--tls-cert-file=" + pki.serverCert, "--tls-private-key-file=" + pki.serverKey,
		"--client-ca-file=" + pki.ca,
		"--kubelet-certificate-authority=" + pki.ca,
		"--kubelet-preferred-address-types=InternalIP",
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + pki.saKey,
		"--service-account-signing-key-file=" + pki.saKey,
		"--service-cluster-ip-range=10.96.0.0/24",
		"--allow-privileged=true",
		// No kubernetes Service endpoints: the reconciler refuses a
		// loopback address, and nothing here routes to it.
		"--endpoint-reconciler-type=none",
		"--v=1",
	})
	if err != nil {
		return err
	}
	c.procs = append(c.procs, api)
	return c.waitReady(ctx, api, pki)
}

// waitReady polls /readyz (and reads /version) until it answers 200, the
// API server exits, or ctx ends.
func (c *Cluster) waitReady(ctx context.Context, api *proc, pki paths) error {
	client, err := c.httpClient(pki)
	if err != nil {
		return err
	}
	var last error
	for {
		last = c.get(ctx, client, "/readyz")
		if last == nil {
			v, err := c.version(ctx, client)
			if err != nil {
				return err
			}
			c.Version = v
			return nil
		}
		select {
		case <-api.done:
			return fmt.Errorf("kubetest: kube-apiserver exited during start-up (%v)\n%s", last, tail(api.log))
		case <-ctx.Done():
			return fmt.Errorf("kubetest: kube-apiserver not ready: %w (last: %v)\n%s", ctx.Err(), last, tail(api.log))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (c *Cluster) httpClient(pki paths) (*http.Client, error) {
	caPEM, err := os.ReadFile(pki.ca)
	if err != nil {
		return nil, fmt.Errorf("kubetest: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	cert, err := tls.LoadX509KeyPair(pki.adminCert, pki.adminKey)
	if err != nil {
		return nil, fmt.Errorf("kubetest: %w", err)
	}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
	}}, nil
}

func (c *Cluster) get(ctx context.Context, client *http.Client, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Host+path, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return nil
}

func (c *Cluster) version(ctx context.Context, client *http.Client) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Host+"/version", nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("kubetest: GET /version: %w", err)
	}
	defer resp.Body.Close()
	var v struct {
		GitVersion string `json:"gitVersion"`
	}
	if err := decodeJSON(resp.Body, &v); err != nil {
		return "", fmt.Errorf("kubetest: GET /version: %w", err)
	}
	return v.GitVersion, nil
}

// Stop stops the API server and etcd and removes their data. It may be
// called more than once.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		for i := len(c.procs) - 1; i >= 0; i-- {
			c.procs[i].stop()
		}
		if err := os.RemoveAll(c.dir); err != nil {
			c.stopErr = fmt.Errorf("kubetest: remove %s: %w", c.dir, err)
		}
	})
	return c.stopErr
}

// proc is a started server process.
type proc struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed when it exited
}

// startProc runs argv in its own process group, its output in
// dir/name.log.
func startProc(dir, name string, argv []string) (*proc, error) {
	logPath := filepath.Join(dir, name+".log")
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("kubetest: %w", err)
	}
	defer out.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	// Pdeathsig stops it if the test binary dies without calling Stop.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("kubetest: start %s: %w", name, err)
	}
	p := &proc{cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// stop sends SIGTERM to the group, then SIGKILL after 10 s.
func (p *proc) stop() {
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
}

// tail returns the end of a log file, to explain a failed start.
func tail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(data) > 4000 {
		data = data[len(data)-4000:]
	}
	return string(data)
}

func kubeconfig(c *Cluster) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: kubetest
  cluster:
    server: %s
    certificate-authority: %s
users:
- name: admin
  user:
    client-certificate: %s
    client-key: %s
contexts:
- name: kubetest
  context:
    cluster: kubetest
    user: admin
current-context: kubetest
`, c.Host, c.CAFile, c.CertFile, c.KeyFile)
}
