package chtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"
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
	pids := []int{c.ZooKeeper.cmd.Process.Pid}
	for _, r := range c.Replicas {
		pids = append(pids, r.cmd.Process.Pid)
	}
	var rss int64
	for _, pid := range pids {
		kb, err := residentKiB(pid)
		if err != nil {
			t.Fatal(err)
		}
		rss += kb
	}
	t.Logf("cluster: ZooKeeper and %d replicas resident after start-up: %d MiB", len(c.Replicas), rss/1024)
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

// residentKiB reads a process's resident set size from /proc.
func residentKiB(pid int) (int64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}
