package leader_test

import (
	"context"
	"fmt"
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
	tr := &terms{}
	type member struct {
		e      *leader.Lease
		cancel context.CancelFunc
		done   chan struct{}
	}
	members := map[string]*member{}
	for i := range 3 {
		name := fmt.Sprintf("m%d", i)
		e, err := leader.NewLease(client, "default", "freshet-lease-test", leader.Member{Name: name, URL: "http://" + name},
			3*time.Second, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		m := &member{e: e, cancel: cancel, done: make(chan struct{})}
		go func() { defer close(m.done); _ = e.Lead(ctx, tr.term(name)) }()
		members[name] = m
	}
	t.Cleanup(func() {
		for _, m := range members {
			m.cancel()
			<-m.done
		}
	})
	agree := func(want string) func() bool {
		return func() bool {
			for _, m := range members {
				l, ok := m.e.Leader()
				if !ok || l.Name != want || l.URL != "http://"+want || m.e.Leading() != (want == m.e.Name()) {
					return false
				}
			}
			return true
		}
	}
	var first string
	waitFor(t, "a first leader", func() bool { first, _ = tr.leader(); return first != "" })
	waitFor(t, "every member to see "+first+" hold the Lease", agree(first))

	m := members[first]
	stopped := time.Now()
	m.cancel()
	<-m.done
	delete(members, first)
	var second string
	waitFor(t, "a second leader", func() bool { second, _ = tr.leader(); return second != "" && second != first })
	t.Logf("lease: %s leads %v after %s stopped and released the Lease (lease duration 3s)", second, time.Since(stopped).Round(time.Millisecond), first)
	waitFor(t, "the others to see "+second+" hold the Lease", agree(second))
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if len(tr.overlap) > 0 {
		t.Fatalf("terms overlapped: %v", tr.overlap)
	}
	if len(tr.log) != 2 {
		t.Fatalf("terms %v, want two", tr.log)
	}
}
