package chtest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/freshet-dev/freshet/internal/freeport"
)

// ClusterName is the name the cluster's servers know it by
// (<remote_servers>), for DSNs' cluster= option.
const ClusterName = "freshet_test"

// zkNotFound is the message tests fail with when ZooKeeper or Java is
// missing; like notFound, a failure rather than a skip.
const zkNotFound = "zookeeper not found (want java and /usr/share/java/zookeeper.jar): run scripts/ensure-zookeeper.sh (make test does this)"

// zkJar is where Debian's zookeeper package puts its jar; its manifest
// names the jars it needs. slf4j-nop on the class path silences the
// warning about a missing logging binding (java skips it if absent).
const (
	zkJar       = "/usr/share/java/zookeeper.jar"
	zkClassPath = zkJar + ":/usr/share/java/slf4j-nop.jar"
)

// The shared cluster of this test binary, like shared; Main stops it.
var sharedCluster struct {
	once sync.Once
	c    *Cluster
	err  error
}

// SharedCluster returns the test binary's replicated cluster, starting it
// on first use. Tests share it: each should work in its own database
// (Cluster.Database) and leave the replicas running when it ends.
func SharedCluster(t testing.TB) *Cluster {
	t.Helper()
	sharedCluster.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		sharedCluster.c, sharedCluster.err = StartCluster(ctx)
	})
	if sharedCluster.err != nil {
		t.Fatal(sharedCluster.err)
	}
	return sharedCluster.c
}

// Cluster is a replicated ClickHouse cluster on this machine: one
// ZooKeeper and two clickhouse-server replicas of one shard, all on
// loopback ports below 32768 with their data in a temporary directory.
type Cluster struct {
	// Replicas are the servers, in the order of <remote_servers>; their
	// {replica} macros are r1, r2, ...
	Replicas []*Instance
	// Startup is how long StartCluster took, from nothing to every
	// replica answering with its ZooKeeper session up.
	Startup time.Duration

	// ZooKeeper coordinates the replicas (and may coordinate other
	// things under paths of their own, Freshet's leader election).
	ZooKeeper *ZooKeeper

	dir string
}

// ZooKeeper is a standalone ZooKeeper server on a loopback port.
type ZooKeeper struct {
	dir  string
	port int
	cmd  *exec.Cmd
	done chan struct{}
}

// Addr is the server's host:port, for clients.
func (z *ZooKeeper) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(z.port)) }

// ZooKeeperDir is where a Cluster's ZooKeeper keeps its data and logs.
func (c *Cluster) ZooKeeperDir() string { return filepath.Join(c.dir, "zk") }

// StartZooKeeper starts a standalone ZooKeeper in a temporary directory on
// a free port below 32768 and waits until it serves. Stop removes it.
func StartZooKeeper(ctx context.Context) (*ZooKeeper, error) {
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, errors.New(zkNotFound)
	}
	if _, err := os.Stat(zkJar); err != nil {
		return nil, errors.New(zkNotFound)
	}
	var lastErr error
	for attempt := 0; attempt < 3 && ctx.Err() == nil; attempt++ {
		dir, err := os.MkdirTemp("", "freshet-zk-")
		if err != nil {
			return nil, fmt.Errorf("chtest: %w", err)
		}
		ports, err := freeport.Low(1)
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		z, err := startZooKeeper(ctx, java, dir, ports[0])
		if err == nil {
			return z, nil
		}
		os.RemoveAll(dir)
		lastErr = err
	}
	return nil, lastErr
}

// Stop kills the server and removes its data.
func (z *ZooKeeper) Stop() error {
	if z.cmd != nil {
		killGroup(z.cmd, z.done)
	}
	if err := os.RemoveAll(z.dir); err != nil {
		return fmt.Errorf("chtest: remove %s: %w", z.dir, err)
	}
	return nil
}

// StartCluster starts ZooKeeper, waits until it serves, then starts two
// replicas and waits until both answer and reach ZooKeeper. A port taken
// between choosing and binding fails a start; a second try with new ports
// makes that race harmless.
func StartCluster(ctx context.Context) (*Cluster, error) {
	bin, args, err := Binary()
	if err != nil {
		return nil, err
	}
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, errors.New(zkNotFound)
	}
	if _, err := os.Stat(zkJar); err != nil {
		return nil, errors.New(zkNotFound)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		c, err := startCluster(ctx, bin, args, java, 2)
		if err == nil {
			return c, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

func startCluster(ctx context.Context, bin string, binArgs []string, java string, replicas int) (*Cluster, error) {
	began := time.Now()
	dir, err := os.MkdirTemp("", "freshet-chcluster-")
	if err != nil {
		return nil, fmt.Errorf("chtest: %w", err)
	}
	c := &Cluster{dir: dir}
	ports, err := freeport.Low(1 + 3*replicas)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if c.ZooKeeper, err = startZooKeeper(ctx, java, c.ZooKeeperDir(), ports[0]); err != nil {
		_ = c.Stop()
		return nil, err
	}
	tcp := make([]int, replicas)
	for r := range replicas {
		tcp[r] = ports[1+3*r]
	}
	for r := range replicas {
		rdir := filepath.Join(dir, fmt.Sprintf("r%d", r+1))
		if err := os.Mkdir(rdir, 0o700); err != nil {
			_ = c.Stop()
			return nil, fmt.Errorf("chtest: %w", err)
		}
		p := ports[1+3*r : 4+3*r]
		cfg := filepath.Join(rdir, "config.xml")
		xml := configXML(rdir, p[0], p[1], p[2], clusterXML(ports[0], r+1, tcp))
		if err := os.WriteFile(cfg, []byte(xml), 0o600); err != nil {
			_ = c.Stop()
			return nil, fmt.Errorf("chtest: %w", err)
		}
		if err := os.WriteFile(filepath.Join(rdir, "users.xml"), []byte(usersXML), 0o600); err != nil {
			_ = c.Stop()
			return nil, fmt.Errorf("chtest: %w", err)
		}
		c.Replicas = append(c.Replicas, &Instance{
			base: &url.URL{Scheme: "clickhouse", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(p[0]))},
			dir:  rdir,
			argv: append([]string{bin}, append(binArgs, "--config-file="+cfg)...),
		})
	}
	// The replicas start side by side: each waits only for ZooKeeper.
	var g errgroup.Group
	for _, r := range c.Replicas {
		g.Go(func() error {
			if err := r.launch(ctx); err != nil {
				return err
			}
			return r.waitZooKeeper(ctx)
		})
	}
	if err := g.Wait(); err != nil {
		_ = c.Stop()
		return nil, err
	}
	c.Startup = time.Since(began)
	return c, nil
}

// startZooKeeper runs a standalone ZooKeeper on port and waits until it
// serves. It answers ruok before it serves sessions, and a 18.16 server
// that connects then crashes on its first ON CLUSTER query, so the wait is
// for stat, which answers "Zookeeper version" only once it serves.
func startZooKeeper(ctx context.Context, java, zdir string, port int) (*ZooKeeper, error) {
	if err := os.MkdirAll(filepath.Join(zdir, "data"), 0o700); err != nil {
		return nil, fmt.Errorf("chtest: %w", err)
	}
	cfg := filepath.Join(zdir, "zoo.cfg")
	if err := os.WriteFile(cfg, []byte(zooCfg(zdir, port)), 0o600); err != nil {
		return nil, fmt.Errorf("chtest: %w", err)
	}
	// A small heap and a quick JIT: ZooKeeper holds a few thousand nodes
	// here, and the machine's cores are shared.
	argv := []string{java, "-Xms32m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-Dzookeeper.log.dir=" + zdir,
		"-cp", zkClassPath,
		"org.apache.zookeeper.server.quorum.QuorumPeerMain", cfg}
	cmd, done, err := startProcess(zdir, argv)
	if err != nil {
		return nil, err
	}
	z := &ZooKeeper{dir: zdir, port: port, cmd: cmd, done: done}
	for {
		line, err := fourLetter(ctx, z.Addr(), "stat")
		if err == nil && strings.HasPrefix(line, "Zookeeper version") {
			return z, nil
		}
		if err == nil {
			err = fmt.Errorf("stat answered %q", line)
		}
		select {
		case <-done:
			return nil, fmt.Errorf("chtest: zookeeper exited during start-up: %w\n%s", err, tail(filepath.Join(zdir, "stdout.log")))
		case <-ctx.Done():
			killGroup(cmd, done)
			return nil, fmt.Errorf("chtest: zookeeper did not serve: %w\n%s", err, tail(filepath.Join(zdir, "stdout.log")))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// fourLetter sends a ZooKeeper four-letter command and returns the first
// line of the answer.
func fourLetter(ctx context.Context, addr, cmd string) (string, error) {
	d := net.Dialer{Timeout: time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(conn, cmd); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil && line == "" {
		return "", err
	}
	return strings.TrimSpace(line), nil
}

// waitZooKeeper polls until the server reads ZooKeeper, so that the first
// replicated DDL does not race its session.
func (i *Instance) waitZooKeeper(ctx context.Context) error {
	conn, err := i.open()
	if err != nil {
		return err
	}
	defer conn.Close()
	for {
		var n uint64
		err := conn.QueryRow(ctx, "SELECT count() FROM system.zookeeper WHERE path = '/'").Scan(&n)
		if err == nil {
			return nil
		}
		select {
		case <-i.done:
			return fmt.Errorf("chtest: clickhouse-server exited waiting for zookeeper: %w\n%s", err, i.logTail())
		case <-ctx.Done():
			return fmt.Errorf("chtest: clickhouse-server did not reach zookeeper: %w\n%s", err, i.logTail())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Database creates a database with a random name on every replica (ON
// CLUSTER) and returns one DSN per replica, in replica order, each with
// cluster=ClusterName so a store opened on it uses the cluster schema. The
// database is dropped on every replica when the test ends; a test that
// froze a replica must thaw it first.
func (c *Cluster) Database(t testing.TB) []string {
	t.Helper()
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		t.Fatal(err)
	}
	name := "test_" + hex.EncodeToString(rnd[:])
	conn, err := c.Replicas[0].open()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := conn.Exec(ctx, "CREATE DATABASE "+name+" ON CLUSTER "+ClusterName); err != nil {
		conn.Close()
		t.Fatalf("chtest: create database on cluster: %v", err)
	}
	t.Cleanup(func() {
		defer conn.Close()
		// A replica thawed after a long freeze keeps its replicated
		// tables read-only until its ZooKeeper session is back, and
		// refuses to drop them meanwhile: ask again.
		deadline := time.Now().Add(2 * time.Minute)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" ON CLUSTER "+ClusterName)
			cancel()
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Logf("chtest: drop database %s: %v", name, err)
				return
			}
			time.Sleep(500 * time.Millisecond)
		}
	})
	dsns := make([]string, len(c.Replicas))
	for r, inst := range c.Replicas {
		u := *inst.base
		u.Path = "/" + name
		u.RawQuery = "cluster=" + ClusterName
		dsns[r] = u.String()
	}
	return dsns
}

// Freeze stops a server's processes with SIGSTOP: it keeps its ports and
// connections but answers nothing, as a server stalled by its machine
// would. Thaw resumes it.
func (i *Instance) Freeze() error { return i.signal(syscall.SIGSTOP) }

// Thaw resumes a frozen server with SIGCONT.
func (i *Instance) Thaw() error { return i.signal(syscall.SIGCONT) }

func (i *Instance) signal(sig syscall.Signal) error {
	if i.cmd == nil {
		return errors.New("chtest: cannot signal an external server")
	}
	if err := syscall.Kill(-i.cmd.Process.Pid, sig); err != nil {
		return fmt.Errorf("chtest: %v: %w", sig, err)
	}
	return nil
}

// Stop kills the replicas and ZooKeeper and removes their data.
func (c *Cluster) Stop() error {
	for _, r := range c.Replicas {
		if r.cmd != nil {
			r.kill()
		}
	}
	if c.ZooKeeper != nil && c.ZooKeeper.cmd != nil {
		killGroup(c.ZooKeeper.cmd, c.ZooKeeper.done)
	}
	if err := os.RemoveAll(c.dir); err != nil {
		return fmt.Errorf("chtest: remove %s: %w", c.dir, err)
	}
	return nil
}

// tail returns the end of a log file, to explain a failed start.
func tail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(data) > 4000 {
		data = data[len(data)-4000:]
	}
	return string(data)
}

// zooCfg is a standalone ZooKeeper on loopback. The admin HTTP server is
// off (it would take port 8080); stat must be allowed for the start-up
// wait; forceSync=no skips the fsync of every write, which a test's
// throwaway data does not need.
func zooCfg(dir string, port int) string {
	return fmt.Sprintf(`tickTime=2000
dataDir=%s/data
clientPort=%d
clientPortAddress=127.0.0.1
maxClientCnxns=0
forceSync=no
admin.enableServer=false
4lw.commands.whitelist=ruok,stat,mntr
`, dir, port)
}

// clusterXML is what one replica adds to configXML: where ZooKeeper is,
// its {shard} and {replica} macros (which the Replicated engines' paths
// use), the cluster with internal_replication (each insert goes to one
// replica and replication copies it, instead of the Distributed engine
// writing every replica itself), and a distributed_ddl queue, without
// which ON CLUSTER fails ("DDL background thread is not initialized").
func clusterXML(zkPort, replica int, tcpPorts []int) string {
	var hosts strings.Builder
	for _, p := range tcpPorts {
		fmt.Fprintf(&hosts, `                <replica><host>127.0.0.1</host><port>%d</port></replica>
`, p)
	}
	return fmt.Sprintf(`    <zookeeper>
        <node><host>127.0.0.1</host><port>%d</port></node>
        <session_timeout_ms>10000</session_timeout_ms>
    </zookeeper>
    <macros>
        <shard>01</shard>
        <replica>r%d</replica>
    </macros>
    <remote_servers>
        <%s>
            <shard>
                <internal_replication>true</internal_replication>
%s            </shard>
        </%[3]s>
    </remote_servers>
    <distributed_ddl>
        <path>/clickhouse/task_queue/ddl</path>
    </distributed_ddl>
`, zkPort, replica, ClusterName, hosts.String())
}
