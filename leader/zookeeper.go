// Package leader elects one Freshet server among several that share a
// store, through ZooKeeper: the server that leads runs what must run once
// (the freshness recorder, the executor, the alert sender); the others
// serve reads and ingest.
//
// The recipe is ZooKeeper's own: each server creates an ephemeral,
// sequential node under the election path, and the lowest sequence leads.
// A server that dies loses its session, ZooKeeper deletes its node after
// the session timeout, and the next one takes over. A leader that loses
// its connection ends its term at once, before the server can expire the
// session (the client notices within two thirds of the session timeout),
// so two terms overlap only if a leader's process is paused for longer
// than that while it acts: docs/scaling.md says what that means.
package leader

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// Member is what a server says about itself in the election: its name
// and where the others can reach it (so that they can forward what only
// the leader does).
type Member struct {
	Name string `json:"name"`
	URL  string `json:"url,omitempty"`
}

// DefaultSessionTimeout is the ZooKeeper session timeout: the longest a
// dead leader holds leadership. ZooKeeper clamps it to 2-20 ticks of the
// server (tickTime 2 s by default: 4-40 s).
const DefaultSessionTimeout = 6 * time.Second

// ZooKeeper runs an election. Create it with NewZooKeeper.
type ZooKeeper struct {
	servers []string
	dir     string // the election's znode; members are its children
	me      Member
	timeout time.Duration
	log     *slog.Logger

	mu      sync.Mutex
	leader  Member
	known   bool
	leading bool
}

// ParseTarget splits "host:port,host:port/path" into servers and an
// election path (default /freshet).
func ParseTarget(target string) (servers []string, dir string, err error) {
	hosts, p, _ := strings.Cut(target, "/")
	for _, h := range strings.Split(hosts, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if !strings.Contains(h, ":") {
			h += ":2181"
		}
		servers = append(servers, h)
	}
	if len(servers) == 0 {
		return nil, "", fmt.Errorf("no ZooKeeper server in %q: want host:port[,host:port...][/path]", target)
	}
	dir = path.Clean("/" + p)
	if dir == "/" {
		dir = "/freshet"
	}
	return servers, dir, nil
}

// NewZooKeeper prepares an election among the servers that use the same
// target ("host:port[,host:port...][/path]"). Nothing connects before Lead.
func NewZooKeeper(target string, me Member, sessionTimeout time.Duration, log *slog.Logger) (*ZooKeeper, error) {
	servers, dir, err := ParseTarget(target)
	if err != nil {
		return nil, err
	}
	if me.Name == "" {
		return nil, errors.New("leader: a member needs a name")
	}
	if sessionTimeout <= 0 {
		sessionTimeout = DefaultSessionTimeout
	}
	if log == nil {
		log = slog.Default()
	}
	return &ZooKeeper{servers: servers, dir: path.Join(dir, "leader"), me: me, timeout: sessionTimeout, log: log}, nil
}

// Leader returns the current leader as this server last saw it.
func (z *ZooKeeper) Leader() (Member, bool) {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.leader, z.known
}

// Name is this server's name in the election.
func (z *ZooKeeper) Name() string { return z.me.Name }

// Leading reports whether this server's term is running.
func (z *ZooKeeper) Leading() bool {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.leading
}

// Lead takes part in the election until ctx ends. Each time this server
// is elected it calls term with a context that ends when leadership may
// be lost (a lost connection, an expired session, ctx's end), waits for
// term to return, and stands again. It returns ctx's error; problems with
// ZooKeeper are logged and retried, never fatal: a server that cannot
// reach ZooKeeper serves as a follower.
func (z *ZooKeeper) Lead(ctx context.Context, term func(ctx context.Context)) error {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		began := time.Now()
		err := z.session(ctx, term)
		z.setLeader(Member{}, false, false)
		if ctx.Err() != nil {
			break
		}
		z.log.Warn("leader election: session ended; standing again", "err", err)
		if time.Since(began) > time.Minute {
			backoff = 100 * time.Millisecond
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
	return ctx.Err()
}

// session runs one ZooKeeper session: it connects, creates this server's
// node, and follows the election until the session expires or ctx ends.
func (z *ZooKeeper) session(ctx context.Context, term func(context.Context)) error {
	states := make(chan zk.State, 16)
	conn, _, err := zk.Connect(z.servers, z.timeout, zk.WithLogInfo(false),
		zk.WithLogger(zkLogger{z.log}),
		zk.WithEventCallback(func(ev zk.Event) {
			if ev.Type == zk.EventSession {
				select {
				case states <- ev.State:
				default: // State() is read again below; a dropped event only delays
				}
			}
		}))
	if err != nil {
		return fmt.Errorf("connect to ZooKeeper %v: %w", z.servers, err)
	}
	defer conn.Close() // closes the session: our node goes at once
	if err := waitSession(ctx, conn, states, 2*z.timeout); err != nil {
		return err
	}
	if err := ensurePath(conn, z.dir); err != nil {
		return err
	}
	data, _ := json.Marshal(z.me)
	mine, err := conn.Create(z.dir+"/member-", data, zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil {
		return fmt.Errorf("create election node under %s: %w", z.dir, err)
	}
	mine = path.Base(mine)
	z.log.Info("leader election: standing", "node", path.Join(z.dir, mine), "zookeeper", strings.Join(z.servers, ","))

	for {
		children, _, changed, err := conn.ChildrenW(z.dir)
		if err != nil {
			return fmt.Errorf("list %s: %w", z.dir, err)
		}
		slices.SortFunc(children, func(a, b string) int { return strings.Compare(seq(a), seq(b)) })
		if !slices.Contains(children, mine) {
			return fmt.Errorf("election node %s is gone (session expired)", mine)
		}
		first := children[0]
		if first == mine {
			z.setLeader(z.me, true, true)
			if err := z.lead(ctx, conn, states, term); err != nil {
				return err
			}
			z.setLeader(z.me, true, false)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			continue // connection back with the session: still first?
		}
		raw, _, err := conn.Get(path.Join(z.dir, first))
		var m Member
		if err == nil {
			err = json.Unmarshal(raw, &m)
		}
		if err != nil {
			z.log.Warn("leader election: cannot read the leader's node", "node", first, "err", err)
			m = Member{Name: first}
		}
		if prev, known := z.Leader(); !known || prev != m {
			z.log.Info("leader election: following", "leader", m.Name, "url", m.URL)
		}
		z.setLeader(m, true, false)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		case st := <-states:
			if st == zk.StateExpired {
				return errors.New("ZooKeeper session expired")
			}
			if st == zk.StateDisconnected {
				z.setLeader(Member{}, false, false) // unknown until back
				if err := waitSession(ctx, conn, states, 2*z.timeout); err != nil {
					return err
				}
			}
		}
	}
}

// lead runs one term: term's context ends on a disconnection (the
// session may expire before the client hears of it again) or ctx's end.
// It returns an error when the session is gone, nil when the connection
// came back with the session (the caller checks it still leads).
func (z *ZooKeeper) lead(ctx context.Context, conn *zk.Conn, states <-chan zk.State, term func(context.Context)) error {
	tctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	began := time.Now()
	z.log.Info("leader election: elected; this server leads", "member", z.me.Name)
	go func() { defer close(done); term(tctx) }()
	var lost error
wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case st := <-states:
			switch st {
			case zk.StateExpired:
				lost = errors.New("ZooKeeper session expired")
				break wait
			case zk.StateDisconnected:
				break wait
			}
		}
	}
	cancel()
	<-done
	z.setLeader(Member{}, false, false) // unknown until the election is read again
	z.log.Warn("leader election: term ended", "member", z.me.Name, "led_for", time.Since(began).Round(time.Millisecond), "cause", cause(ctx, lost))
	if lost != nil || ctx.Err() != nil {
		return lost
	}
	return waitSession(ctx, conn, states, 2*z.timeout)
}

func cause(ctx context.Context, lost error) string {
	switch {
	case ctx.Err() != nil:
		return "stopping"
	case lost != nil:
		return lost.Error()
	default:
		return "connection to ZooKeeper lost"
	}
}

func (z *ZooKeeper) setLeader(m Member, known, leading bool) {
	z.mu.Lock()
	z.leader, z.known, z.leading = m, known, leading
	z.mu.Unlock()
}

// waitSession waits until the connection has a session, at most limit.
func waitSession(ctx context.Context, conn *zk.Conn, states <-chan zk.State, limit time.Duration) error {
	deadline := time.After(limit)
	for {
		switch conn.State() {
		case zk.StateHasSession:
			return nil
		case zk.StateExpired:
			return errors.New("ZooKeeper session expired")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			return fmt.Errorf("no ZooKeeper session within %v (state %v)", limit, conn.State())
		case st := <-states:
			if st == zk.StateExpired {
				return errors.New("ZooKeeper session expired")
			}
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ensurePath creates p and its parents as persistent nodes.
func ensurePath(conn *zk.Conn, p string) error {
	cur := ""
	for _, part := range strings.Split(strings.Trim(p, "/"), "/") {
		cur += "/" + part
		_, err := conn.Create(cur, nil, 0, zk.WorldACL(zk.PermAll))
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("create %s: %w", cur, err)
		}
	}
	return nil
}

// seq is a sequential node's counter: the last 10 digits ZooKeeper adds.
func seq(node string) string {
	if len(node) < 10 {
		return node
	}
	return node[len(node)-10:]
}

// zkLogger sends the client's messages to slog at debug level: it
// reports every reconnection attempt, which the election logs itself.
type zkLogger struct{ log *slog.Logger }

func (l zkLogger) Printf(format string, args ...any) {
	l.log.Debug("zookeeper: " + fmt.Sprintf(format, args...))
}
