package clickhouse

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/internal/chtest"
	"github.com/freshet-dev/freshet/store"
	"github.com/freshet-dev/freshet/store/storetest"
)

// These tests run the cluster schema mode against a real replicated
// cluster (chtest.SharedCluster: ZooKeeper and two replicas of one shard).
// Their names start with TestReplicated, which scripts/test.sh runs in a
// stage of its own, with -v, so the figures they log are printed.

// openCluster opens a store in cluster mode on replica r of a database
// created on every replica.
func openCluster(t testing.TB, dsns []string, r int) *Store {
	t.Helper()
	st, err := Open(context.Background(), dsns[r], WithLogger(quiet))
	if err != nil {
		t.Fatalf("open on replica %d: %v", r+1, err)
	}
	return st
}

// syncReplica waits until the replica of st has fetched every part the
// others wrote to tables (SYSTEM SYNC REPLICA), so a read there sees what
// was acknowledged through another replica. A replica thawed after a
// freeze near the ZooKeeper session timeout restarts its tables, failing
// a SYNC REPLICA meanwhile ("Shutdown is called for table"): it asks
// again for up to 3 minutes.
func syncReplica(ctx context.Context, st *Store, tables ...string) error {
	deadline := time.Now().Add(3 * time.Minute)
	for _, tb := range tables {
		for {
			err := st.conn.Exec(ctx, "SYSTEM SYNC REPLICA "+st.schema.table(tb))
			if err == nil {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("sync replica %s: %w", tb, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return nil
}

// replicaReads is a store.Store that writes through replica 1 and reads
// from replica 2 once it caught up: the conformance suite through it checks
// that everything the store writes replicates and reads the same there.
type replicaReads struct {
	*Store        // replica 1: writes, Ping, Close
	r2     *Store // replica 2: reads
}

func (s replicaReads) sync(ctx context.Context) error {
	return syncReplica(ctx, s.r2, "events", "event_ids", "event_edges", "specs")
}

func (s replicaReads) Events(ctx context.Context, q store.EventQuery) (store.EventPage, error) {
	if err := s.sync(ctx); err != nil {
		return store.EventPage{}, err
	}
	return s.r2.Events(ctx, q)
}

func (s replicaReads) Summaries(ctx context.Context) ([]store.Summary, error) {
	if err := s.sync(ctx); err != nil {
		return nil, err
	}
	return s.r2.Summaries(ctx)
}

func (s replicaReads) RecentSuccesses(ctx context.Context, perAsset int) ([]asset.Event, error) {
	if err := s.sync(ctx); err != nil {
		return nil, err
	}
	return s.r2.RecentSuccesses(ctx, perAsset)
}

func (s replicaReads) ObservedEdges(ctx context.Context) ([]asset.Edge, error) {
	if err := s.sync(ctx); err != nil {
		return nil, err
	}
	return s.r2.ObservedEdges(ctx)
}

func (s replicaReads) Specs(ctx context.Context) ([]asset.Spec, error) {
	if err := s.sync(ctx); err != nil {
		return nil, err
	}
	return s.r2.Specs(ctx)
}

func (s replicaReads) Close() error {
	err := s.Store.Close()
	if err2 := s.r2.Close(); err == nil {
		err = err2
	}
	return err
}

// TestReplicatedConformance runs the shared store suite in cluster mode,
// each subtest on a fresh database of the cluster: once with Freshet on
// replica 1 alone, once writing through replica 1 and reading from
// replica 2.
func TestReplicatedConformance(t *testing.T) {
	c := chtest.SharedCluster(t)
	t.Logf("cluster: ZooKeeper and %d replicas started in %v", len(c.Replicas), c.Startup)
	t.Run("replica1", func(t *testing.T) {
		t.Parallel()
		storetest.Run(t, func(t *testing.T) store.Store {
			return openCluster(t, c.Database(t), 0)
		})
	})
	t.Run("reads-on-replica2", func(t *testing.T) {
		t.Parallel()
		storetest.Run(t, func(t *testing.T) store.Store {
			dsns := c.Database(t)
			return replicaReads{Store: openCluster(t, dsns, 0), r2: openCluster(t, dsns, 1)}
		})
	})
}

// TestReplicatedRunsAndAlertsConformance runs the runs and alerts suites
// in cluster mode on replica 1.
func TestReplicatedRunsAndAlertsConformance(t *testing.T) {
	c := chtest.SharedCluster(t)
	open := func(t *testing.T) *Store {
		st := openCluster(t, c.Database(t), 0)
		t.Cleanup(func() {
			if err := st.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
		return st
	}
	t.Run("runs", func(t *testing.T) {
		t.Parallel()
		storetest.RunRuns(t, func(t *testing.T) store.RunStore { return open(t) })
	})
	t.Run("alerts", func(t *testing.T) {
		t.Parallel()
		storetest.RunAlerts(t, func(t *testing.T) store.AlertStore { return open(t) })
	})
}

// TestReplicatedRetention runs the retention suite in cluster mode,
// trimming through replica 1 and reading events from replica 2 once it
// caught up: the month swaps (REPLACE PARTITION from a local helper)
// replicate.
func TestReplicatedRetention(t *testing.T) {
	c := chtest.SharedCluster(t)
	storetest.RunRetention(t, func(t *testing.T) storetest.RetentionStore {
		dsns := c.Database(t)
		s := replicaReads{Store: openCluster(t, dsns, 0), r2: openCluster(t, dsns, 1)}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
		return s
	})
}

// TestReplicatedSchema checks that cluster mode made every table
// Replicated on both replicas.
func TestReplicatedSchema(t *testing.T) {
	t.Parallel()
	c := chtest.SharedCluster(t)
	dsns := c.Database(t)
	ctx := context.Background()
	for r := range dsns {
		st := openCluster(t, dsns, r)
		defer st.Close()
		rows, err := st.conn.Query(ctx, "SELECT name, engine FROM system.tables WHERE database = ? ORDER BY name", st.schema.db)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		for rows.Next() {
			var name, engine string
			if err := rows.Scan(&name, &engine); err != nil {
				t.Fatal(err)
			}
			n++
			if !strings.HasPrefix(engine, "Replicated") && engine != "MaterializedView" {
				t.Errorf("replica %d: table %s has engine %s", r+1, name, engine)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		if n < 8 {
			t.Errorf("replica %d holds %d tables", r+1, n)
		}
	}
}
