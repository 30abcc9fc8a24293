package kubetest

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) { Main(m) }

// TestStartServesTheAPI starts the control plane and reads it as a client
// would: the admin certificate is accepted, an anonymous client is not
// let in, and the version is the one apiserver/go.mod builds.
func TestStartServesTheAPI(t *testing.T) {
	c := Shared(t)
	t.Logf("kube-apiserver %s: etcd + apiserver ready in %s", c.Version, c.StartTime.Round(time.Millisecond))
	want, err := APIServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if c.Version != want {
		t.Errorf("server version %q, apiserver/go.mod builds %q", c.Version, want)
	}
	kc, err := os.ReadFile(c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(kc), c.Host) {
		t.Errorf("kubeconfig does not name %s:\n%s", c.Host, kc)
	}
	pki := paths{ca: c.CAFile, adminCert: c.CertFile, adminKey: c.KeyFile}
	client, err := c.httpClient(pki)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.get(ctx, client, "/api/v1/namespaces/default"); err != nil {
		t.Errorf("admin cannot read the default namespace: %v", err)
	}
	// Without the client certificate the request is anonymous, which RBAC
	// does not let read namespaces.
	anon, err := c.httpClient(pki)
	if err != nil {
		t.Fatal(err)
	}
	anon.Transport.(*http.Transport).TLSClientConfig.Certificates = nil
	if err := c.get(ctx, anon, "/api/v1/namespaces/default"); err == nil {
		t.Error("an anonymous client read the default namespace")
	}
}

func TestBinariesNamesTheEnsureScript(t *testing.T) {
	t.Setenv(EnvAPIServer, "/nonexistent/kube-apiserver")
	_, _, err := Binaries()
	if err == nil || !strings.Contains(err.Error(), "scripts/ensure-kube-apiserver.sh") {
		t.Fatalf("Binaries() = %v, want an error naming scripts/ensure-kube-apiserver.sh", err)
	}
}
