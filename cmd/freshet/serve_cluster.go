package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/freshet-dev/freshet/app"
	"github.com/freshet-dev/freshet/executor/kube"
	"github.com/freshet-dev/freshet/leader"
)

// clusterFlags make freshet serve one of several servers that share a
// ClickHouse store (docs/scaling.md).
type clusterFlags struct {
	zookeeper      string
	lease          string
	kubeconfig     string
	name           string
	advertiseURL   string
	sessionTimeout time.Duration
	followOverlap  time.Duration
}

func (f *clusterFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.zookeeper, "zookeeper", "",
		"share the ClickHouse store with other freshet servers: elect one leader through this ZooKeeper, "+
			"host:port[,host:port...][/path] (path default /freshet; every server of a cluster uses the same). "+
			"All servers ingest and answer reads; the leader alone records freshness changes, runs materializations and sends alerts")
	fl.StringVar(&f.lease, "lease", "",
		"like --zookeeper, but elect the leader through this Kubernetes Lease, NAMESPACE/NAME (coordination.k8s.io; the pod's service account needs get, create and update on it)")
	fl.StringVar(&f.kubeconfig, "lease-kubeconfig", "", "kubeconfig for --lease when freshet runs outside the cluster (default: the pod's service account)")
	fl.StringVar(&f.name, "name", "", "this server's name in runs and in the election (default HOSTNAME:PID; in Kubernetes, the pod name)")
	fl.StringVar(&f.advertiseURL, "advertise-url", "",
		"how the other servers reach this one when it leads: they forward the runs, alerts, silences and automation routes to it (default http://ADDR, with this host's name if ADDR has no host)")
	fl.DurationVar(&f.sessionTimeout, "election-timeout", leader.DefaultSessionTimeout,
		"a leader that dies is replaced after about this long: the ZooKeeper session timeout (ZooKeeper allows 2 to 20 of its ticks, 4s to 40s by default), or the Lease's duration")
	fl.DurationVar(&f.followOverlap, "follow-overlap", 10*time.Second,
		"how much of the shared store's event log each poll reads again (at least 2s): the longest an insert by another server may take to become visible here; also how often specs stored by the other servers are read")
}

// apply sets up the election when --zookeeper is given.
func (f *clusterFlags) apply(cfg *app.Config, addr string, log *slog.Logger) error {
	if f.name != "" {
		cfg.Instance = f.name
	}
	if f.zookeeper != "" && f.lease != "" {
		return errors.New("--zookeeper and --lease: choose one way to elect the leader")
	}
	if f.zookeeper == "" && f.lease == "" {
		if f.advertiseURL != "" {
			return errors.New("--advertise-url needs --zookeeper or --lease: it is where the other servers of a cluster reach this one")
		}
		return nil
	}
	if cfg.Store == "" || cfg.Store == "embedded" {
		return errors.New("--zookeeper, --lease: servers that elect a leader share their store: use --store clickhouse://... (the embedded store is one process's own)")
	}
	name := cfg.Instance
	if name == "" {
		host, _ := os.Hostname()
		name = fmt.Sprintf("%s:%d", host, os.Getpid())
		cfg.Instance = name
	}
	u := f.advertiseURL
	if u == "" {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return fmt.Errorf("--addr %q: %w", addr, err)
		}
		if host == "" || host == "0.0.0.0" || host == "::" {
			host, _ = os.Hostname()
		}
		u = "http://" + net.JoinHostPort(host, port)
	}
	me := leader.Member{Name: name, URL: u}
	cfg.FollowOverlap = f.followOverlap
	if f.lease != "" {
		ns, lname, err := leader.ParseLease(f.lease)
		if err != nil {
			return fmt.Errorf("--lease: %w", err)
		}
		client, err := kube.NewClient(f.kubeconfig)
		if err != nil {
			return fmt.Errorf("--lease: %w", err)
		}
		e, err := leader.NewLease(client, ns, lname, me, f.sessionTimeout, log)
		if err != nil {
			return fmt.Errorf("--lease: %w", err)
		}
		cfg.Election = e
		return nil
	}
	e, err := leader.NewZooKeeper(f.zookeeper, me, f.sessionTimeout, log)
	if err != nil {
		return fmt.Errorf("--zookeeper: %w", err)
	}
	cfg.Election = e
	return nil
}
