package chtest

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

func TestMain(m *testing.M) { Main(m) }

func TestServerGivesFreshDatabases(t *testing.T) {
	t.Parallel()
	a, b := Server(t), Server(t)
	if a == b {
		t.Fatalf("two tests got the same database %s", a)
	}
	opts, err := clickhouse.ParseDSN(a)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var n uint64
	if err := conn.QueryRow(context.Background(), "SELECT count() FROM system.tables WHERE database = currentDatabase()").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("fresh database has %d tables", n)
	}
}

// TestReplicatedCluster starts the shared cluster and checks what the
// store relies on: ON CLUSTER DDL reaches both replicas, and a row
// inserted on one replica shows on the other.
func TestReplicatedCluster(t *testing.T) {
	t.Parallel()
	c := SharedCluster(t)
	t.Logf("cluster: ZooKeeper and %d replicas started in %v", len(c.Replicas), c.Startup.Round(time.Millisecond))
	dsns := c.Database(t)
	ctx := context.Background()
	conns := make([]clickhouse.Conn, len(dsns))
	for r, dsn := range dsns {
		opts, err := clickhouse.ParseDSN(strings.Replace(dsn, "?cluster="+ClusterName, "", 1))
		if err != nil {
			t.Fatal(err)
		}
		if conns[r], err = clickhouse.Open(opts); err != nil {
			t.Fatal(err)
		}
		defer conns[r].Close()
	}
	u, err := url.Parse(dsns[0])
	if err != nil {
		t.Fatal(err)
	}
	db := strings.TrimPrefix(u.Path, "/")
	if err := conns[0].Exec(ctx, "CREATE TABLE "+db+".t ON CLUSTER "+ClusterName+
		" (x UInt64) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/"+db+"/t', '{replica}') ORDER BY x"); err != nil {
		t.Fatal(err)
	}
	batch, err := conns[0].PrepareBatch(ctx, "INSERT INTO t (x)")
	if err != nil {
		t.Fatal(err)
	}
	if err := batch.Append(uint64(42)); err != nil {
		t.Fatal(err)
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		var n uint64
		if err := conns[1].QueryRow(ctx, "SELECT count() FROM t WHERE x = 42").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the row inserted on replica 1 never showed on replica 2")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
