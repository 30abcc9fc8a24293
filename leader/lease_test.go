package leader_test

import (
	"log/slog"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/freshet-dev/freshet/internal/kubetest"
	"github.com/freshet-dev/freshet/leader"
)

func TestMain(m *testing.M) { kubetest.Main(m) }

func TestParseLease(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, ns, name string
		err          bool
	}{
		{in: "freshet/leader", ns: "freshet", name: "leader"},
		{in: "leader", err: true},
		{in: "/leader", err: true},
		{in: "a/b/c", err: true},
	} {
		ns, name, err := leader.ParseLease(tc.in)
		if (err != nil) != tc.err || ns != tc.ns || name != tc.name {
			t.Errorf("%q: %q %q %v", tc.in, ns, name, err)
		}
	}
}

// TestLeaseElection: three members elect through a Lease on a real
// kube-apiserver: one term at a time, every member sees the holder, and
// a leader that stops releases the Lease to another.
func TestLeaseElection(t *testing.T) {
	c := kubetest.Shared(t)
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// A long lease: a leader stalled by a busy machine must not lose it (a
	// clean stop releases it at once, whatever its length).
	handover(t, func(m leader.Member) candidate {
		e, err := leader.NewLease(client, "default", "freshet-lease-test", m, 8*time.Second, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		return e
	})
}
