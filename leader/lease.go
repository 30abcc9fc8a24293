package leader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// Lease runs an election through a Kubernetes Lease (coordination.k8s.io),
// for servers that run in a cluster without ZooKeeper. client-go's
// leader election holds the Lease: the holder renews it every retry
// period and ends its term when it could not renew within the renew
// deadline, two thirds of the lease duration, so before another server
// may take the Lease over (a full lease duration after the last renewal
// it saw). A server that stops cleanly ends its term, then releases the
// Lease, and the next takes over at its next try.
type Lease struct {
	client    kubernetes.Interface
	namespace string
	name      string
	me        Member
	duration  time.Duration
	log       *slog.Logger

	mu      sync.Mutex
	leader  Member
	known   bool
	leading bool
}

// NewLease prepares an election on the Lease namespace/name. The Lease's
// holder is "NAME URL": the member's name, a space and its URL, so that
// followers know where to forward; names may not hold spaces.
// leaseDuration is how long a dead leader holds the Lease.
func NewLease(client kubernetes.Interface, namespace, name string, me Member, leaseDuration time.Duration, log *slog.Logger) (*Lease, error) {
	if namespace == "" || name == "" {
		return nil, errors.New("leader: a Lease needs a namespace and a name")
	}
	if me.Name == "" || strings.ContainsAny(me.Name, " \t\n") || strings.ContainsAny(me.URL, " \t\n") {
		return nil, fmt.Errorf("leader: member name %q: want a name without spaces (and a URL without)", me.Name)
	}
	if leaseDuration <= 0 {
		leaseDuration = DefaultSessionTimeout
	}
	if log == nil {
		log = slog.Default()
	}
	return &Lease{client: client, namespace: namespace, name: name, me: me, duration: leaseDuration, log: log}, nil
}

// ParseLease splits "NAMESPACE/NAME".
func ParseLease(s string) (namespace, name string, err error) {
	namespace, name, ok := strings.Cut(s, "/")
	if !ok || namespace == "" || name == "" || strings.Contains(name, "/") {
		return "", "", fmt.Errorf("lease %q: want NAMESPACE/NAME", s)
	}
	return namespace, name, nil
}

// Name is this server's name in the election.
func (l *Lease) Name() string { return l.me.Name }

// Leader returns the Lease's holder as this server last saw it.
func (l *Lease) Leader() (Member, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.leader, l.known
}

// Leading reports whether this server's term is running.
func (l *Lease) Leading() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.leading
}

func (l *Lease) identity() string {
	if l.me.URL == "" {
		return l.me.Name
	}
	return l.me.Name + " " + l.me.URL
}

func parseIdentity(id string) Member {
	name, u, _ := strings.Cut(id, " ")
	return Member{Name: name, URL: u}
}

// Lead takes part in the election until ctx ends, like ZooKeeper.Lead:
// term runs while this server holds the Lease, with a context that ends
// when the Lease may be lost or ctx ends. Problems with the API server are
// retried by client-go; a server that cannot reach it follows.
func (l *Lease) Lead(ctx context.Context, term func(ctx context.Context)) error {
	for ctx.Err() == nil {
		if err := l.run(ctx, term); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// run is one pass of client-go's elector: it returns after a term (lost
// or ended by ctx) or, without a term, when ctx ends.
func (l *Lease) run(ctx context.Context, term func(context.Context)) error {
	// The elector's own context outlives ctx: on a clean stop the term
	// ends first, and only then is the Lease released.
	ectx, stopElector := context.WithCancel(context.WithoutCancel(ctx))
	defer stopElector()
	var (
		mu      sync.Mutex
		started bool
		done    = make(chan struct{})
	)
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: l.namespace, Name: l.name},
		Client:     l.client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: l.identity()},
	}
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		Name:            "freshet",
		LeaseDuration:   l.duration,
		RenewDeadline:   l.duration * 2 / 3,
		RetryPeriod:     max(l.duration/6, 200*time.Millisecond),
		ReleaseOnCancel: true,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(lctx context.Context) {
				mu.Lock()
				if ctx.Err() != nil { // stopping: no term, release at once
					mu.Unlock()
					stopElector()
					return
				}
				started = true
				mu.Unlock()
				defer close(done)
				tctx, cancel := context.WithCancel(lctx)
				defer cancel()
				defer context.AfterFunc(ctx, cancel)()
				l.set(l.me, true, true)
				l.log.Info("leader election: elected; this server holds the Lease", "member", l.me.Name, "lease", l.namespace+"/"+l.name)
				began := time.Now()
				term(tctx)
				l.set(Member{}, false, false)
				l.log.Warn("leader election: term ended", "member", l.me.Name, "led_for", time.Since(began).Round(time.Millisecond))
				stopElector() // the term is over: release the Lease
			},
			OnStoppedLeading: func() {},
			OnNewLeader: func(identity string) {
				m := parseIdentity(identity)
				if m.Name == l.me.Name {
					return // set with the term
				}
				l.log.Info("leader election: following", "leader", m.Name, "url", m.URL)
				l.set(m, true, false)
			},
		},
	})
	if err != nil {
		return fmt.Errorf("leader: %w", err)
	}
	go func() {
		select {
		case <-ctx.Done():
			mu.Lock()
			if !started {
				stopElector() // not leading: nothing to finish first
			}
			mu.Unlock()
		case <-ectx.Done():
		}
	}()
	le.Run(ectx)
	mu.Lock()
	wasLeading := started
	mu.Unlock()
	if wasLeading {
		<-done
	}
	return nil
}

func (l *Lease) set(m Member, known, leading bool) {
	l.mu.Lock()
	l.leader, l.known, l.leading = m, known, leading
	l.mu.Unlock()
}
