package leader_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/internal/chtest"
	"github.com/freshet-dev/freshet/leader"
)

func TestParseTarget(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		servers []string
		dir     string
		err     bool
	}{
		{in: "zk1:2181", servers: []string{"zk1:2181"}, dir: "/freshet"},
		{in: "zk1,zk2:2182/prod/freshet", servers: []string{"zk1:2181", "zk2:2182"}, dir: "/prod/freshet"},
		{in: "127.0.0.1:2181/", servers: []string{"127.0.0.1:2181"}, dir: "/freshet"},
		{in: "a:1//x/../y", servers: []string{"a:1"}, dir: "/y"},
		{in: "", err: true},
		{in: "/only/path", err: true},
	} {
		servers, dir, err := leader.ParseTarget(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("%q: err %v, want error %v", tc.in, err, tc.err)
			continue
		}
		if tc.err {
			continue
		}
		if fmt.Sprint(servers) != fmt.Sprint(tc.servers) || dir != tc.dir {
			t.Errorf("%q: %v %q, want %v %q", tc.in, servers, dir, tc.servers, tc.dir)
		}
	}
}

// terms records every term of every member, to check they never overlap.
type terms struct {
	mu      sync.Mutex
	current string // member leading now, "" when none
	log     []string
	overlap []string
}

func (tr *terms) term(name string) func(context.Context) {
	return func(ctx context.Context) {
		tr.mu.Lock()
		if tr.current != "" {
			tr.overlap = append(tr.overlap, tr.current+" and "+name)
		}
		tr.current = name
		tr.log = append(tr.log, name)
		tr.mu.Unlock()
		<-ctx.Done()
		tr.mu.Lock()
		if tr.current == name {
			tr.current = ""
		}
		tr.mu.Unlock()
	}
}

func (tr *terms) leader() (string, int) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.current, len(tr.log)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func startZooKeeper(t *testing.T) *chtest.ZooKeeper {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	z, err := chtest.StartZooKeeper(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = z.Stop() })
	return z
}

// TestElection: three members, exactly one term at a time; a leader that
// stops hands over, and every member agrees on who leads.
func TestElection(t *testing.T) {
	z := startZooKeeper(t)
	// A long session: a member stalled by a busy machine must not lose it (a
	// clean stop closes it at once, whatever its length).
	handover(t, func(m leader.Member) candidate {
		e, err := leader.NewZooKeeper(z.Addr()+"/test/election", m, 10*time.Second, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		return e
	})
}

// candidate is an election's member (leader.ZooKeeper, leader.Lease).
type candidate interface {
	Lead(ctx context.Context, term func(context.Context)) error
	Leader() (leader.Member, bool)
	Leading() bool
	Name() string
}

// handover runs three members: one term at a time, every member sees the
// leader, and when the leader stops another takes over.
func handover(t *testing.T, newMember func(leader.Member) candidate) {
	t.Helper()
	tr := &terms{}
	type member struct {
		e      candidate
		cancel context.CancelFunc
		done   chan struct{}
	}
	members := map[string]*member{}
	for i := range 3 {
		name := fmt.Sprintf("m%d", i)
		e := newMember(leader.Member{Name: name, URL: "http://" + name})
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
	waitFor(t, "every member to see "+first+" lead", agree(first))

	// The leader stops: it gives up leadership, and another takes over.
	m := members[first]
	stopped := time.Now()
	m.cancel()
	<-m.done
	delete(members, first)
	var second string
	waitFor(t, "a second leader", func() bool { second, _ = tr.leader(); return second != "" && second != first })
	t.Logf("handover: %s leads %v after %s stopped", second, time.Since(stopped).Round(time.Millisecond), first)
	waitFor(t, "the others to see "+second+" lead", agree(second))
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if len(tr.overlap) > 0 {
		t.Fatalf("terms overlapped: %v", tr.overlap)
	}
	if len(tr.log) != 2 {
		t.Fatalf("terms %v, want two", tr.log)
	}
}

// TestLeaderCutOff: a leader whose connection to ZooKeeper is cut ends
// its term before ZooKeeper expires its session, so the next leader's
// term never overlaps it; when the connection returns it stands again as
// a follower.
func TestLeaderCutOff(t *testing.T) {
	z := startZooKeeper(t)
	tr := &terms{}
	proxy := newCutProxy(t, z.Addr())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	start := func(name, addr string) *leader.ZooKeeper {
		e, err := leader.NewZooKeeper(addr+"/cut", leader.Member{Name: name}, 4*time.Second, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); _ = e.Lead(ctx, tr.term(name)) }()
		return e
	}
	a := start("a", proxy.addr())
	waitFor(t, "a to lead", func() bool { l, _ := tr.leader(); return l == "a" })
	b := start("b", z.Addr())
	waitFor(t, "b to see a lead", func() bool { l, ok := b.Leader(); return ok && l.Name == "a" })

	cut := time.Now()
	proxy.cut()
	waitFor(t, "b to lead", func() bool { l, _ := tr.leader(); return l == "b" })
	t.Logf("failover: b leads %v after a's connection was cut (session timeout 4s)", time.Since(cut).Round(time.Millisecond))
	if a.Leading() {
		t.Fatal("a still says it leads")
	}
	proxy.restore()
	waitFor(t, "a to see b lead", func() bool { l, ok := a.Leader(); return ok && l.Name == "b" })
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if len(tr.overlap) > 0 {
		t.Fatalf("terms overlapped: %v", tr.overlap)
	}
	if fmt.Sprint(tr.log) != "[a b]" {
		t.Fatalf("terms %v, want [a b]", tr.log)
	}
}

// cutProxy forwards TCP to ZooKeeper until cut: then it drops every
// connection silently (no FIN: like a network partition) and refuses new
// ones until restored.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  []net.Conn
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			down := p.down
			p.mu.Unlock()
			if down {
				c.Close()
				continue
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go p.pipe(c, u)
			go p.pipe(u, c)
		}
	}()
	return p
}

// pipe copies until cut; after a cut it swallows what arrives, so the
// client hears nothing rather than a reset.
func (p *cutProxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			continue
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			return
		}
	}
}

func (p *cutProxy) addr() string { return p.ln.Addr().String() }

func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
}

func (p *cutProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
	for _, c := range p.conns {
		c.Close() // the client reconnects through a fresh connection
	}
	p.conns = nil
}
