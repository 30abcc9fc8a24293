// Package chtest runs a private ClickHouse server for tests.
//
// A test binary starts at most one server (on free loopback ports, with its
// own config and a temporary data directory) and gives every test a fresh
// database in it, so tests can run in parallel without seeing each other's
// rows. Set FRESHET_TEST_CLICKHOUSE to a DSN to use an existing server
// instead.
//
// SharedCluster does the same for a replicated cluster (ZooKeeper and two
// replicas of one shard; see cluster.go), for the store's cluster mode.
//
// Use Server in tests; call Main from TestMain so the shared server (and
// cluster) is stopped when the binary ends:
//
//	func TestMain(m *testing.M) { chtest.Main(m) }
package chtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/freshet-dev/freshet/internal/freeport"
)

// EnvDSN names the environment variable that points tests at an existing
// server instead of a private one.
const EnvDSN = "FRESHET_TEST_CLICKHOUSE"

// notFound is the message tests fail with when the server is not installed;
// tests must fail, not skip, so a CI machine without ClickHouse is noticed.
const notFound = "clickhouse-server not found: run scripts/ensure-clickhouse.sh (make test does this)"

// errNotFound is returned by Start when no server binary is installed.
var errNotFound = errors.New(notFound)

// The shared server of this test binary. A package variable is the only way
// for independent tests to share one process; Main stops it.
var shared struct {
	once sync.Once
	inst *Instance
	err  error
}

// Server returns the DSN of a fresh, empty database on the test binary's
// ClickHouse server, starting the server on first use. The database is
// dropped when the test ends.
func Server(t testing.TB) string {
	t.Helper()
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if dsn := os.Getenv(EnvDSN); dsn != "" {
			shared.inst, shared.err = External(dsn)
			return
		}
		shared.inst, shared.err = Start(ctx)
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.inst.Database(t)
}

// Main runs the package's tests and then stops the shared server, which
// otherwise would outlive the test binary. Use it as TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if shared.inst != nil {
		if err := shared.inst.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "chtest:", err)
		}
	}
	if sharedCluster.c != nil {
		if err := sharedCluster.c.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "chtest:", err)
		}
	}
	os.Exit(code)
}

// Instance is a running server: a private one started by Start, or an
// external one named by a DSN.
type Instance struct {
	base *url.URL // DSN without a database
	cmd  *exec.Cmd
	argv []string // how to start it (private servers only)
	dir  string
	done chan struct{} // closed when the private server process exited
}

// External wraps an already running server. Its database, if any, is
// ignored: Database creates a new one per test.
func External(dsn string) (*Instance, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, fmt.Errorf("chtest: %s: %w", EnvDSN, err)
	}
	u.Path = ""
	return &Instance{base: u}, nil
}

// Binary finds the clickhouse-server executable (Debian installs it in
// /usr/sbin, which is not always on a test's PATH). It returns the command
// and the arguments that select the server mode.
func Binary() (string, []string, error) {
	if p, err := exec.LookPath("clickhouse-server"); err == nil {
		return p, nil, nil
	}
	for _, p := range []string{"/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server"} {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil, nil
		}
	}
	// The single-binary distribution selects the mode by argument.
	for _, p := range []string{"/usr/bin/clickhouse", "/usr/local/bin/clickhouse"} {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, []string{"server"}, nil
		}
	}
	return "", nil, errNotFound
}

// Start launches a private server and waits until it answers queries.
func Start(ctx context.Context) (*Instance, error) {
	bin, args, err := Binary()
	if err != nil {
		return nil, err
	}
	// A port picked free may be taken before the server binds it; a new
	// set of ports on a second try makes that race harmless.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		inst, err := start(ctx, bin, args)
		if err == nil {
			return inst, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

func start(ctx context.Context, bin string, args []string) (*Instance, error) {
	dir, err := os.MkdirTemp("", "freshet-chtest-")
	if err != nil {
		return nil, fmt.Errorf("chtest: %w", err)
	}
	ports, err := freeport.Get(3)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	cfg := filepath.Join(dir, "config.xml")
	if err := os.WriteFile(cfg, []byte(configXML(dir, ports[0], ports[1], ports[2], "")), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("chtest: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "users.xml"), []byte(usersXML), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("chtest: %w", err)
	}
	inst := &Instance{
		base: &url.URL{Scheme: "clickhouse", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))},
		dir:  dir,
		argv: append([]string{bin}, append(args, "--config-file="+cfg)...),
	}
	if err := inst.launch(ctx); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return inst, nil
}

// launch starts the server process on the instance's config and waits
// until it answers.
func (i *Instance) launch(ctx context.Context) error {
	cmd, done, err := startProcess(i.dir, i.argv)
	if err != nil {
		return err
	}
	i.cmd, i.done = cmd, done
	if err := i.wait(ctx); err != nil {
		logs := i.logTail()
		i.kill()
		return fmt.Errorf("chtest: %w\n%s", err, logs)
	}
	return nil
}

// startProcess runs argv in dir, its output appended to dir/stdout.log,
// and returns a channel closed when it exits.
func startProcess(dir string, argv []string) (*exec.Cmd, chan struct{}, error) {
	out, err := os.OpenFile(filepath.Join(dir, "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("chtest: %w", err)
	}
	defer out.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	// Own process group so Stop can kill the server and anything it forks;
	// Pdeathsig stops it if the test binary dies without running Stop.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("chtest: start %s: %w", argv[0], err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	return cmd, done, nil
}

// Suspend stops a private server but keeps its data and ports, to simulate
// an outage; Resume starts it again.
func (i *Instance) Suspend() error {
	if i.cmd == nil {
		return errors.New("chtest: cannot suspend an external server")
	}
	i.kill()
	return nil
}

// Stall freezes a private server (SIGSTOP): its connections stay open
// but nothing answers, as with a server stuck on a disk or in a long GC.
// Unstall lets it go on.
func (i *Instance) Stall() error {
	if i.cmd == nil {
		return errors.New("chtest: cannot stall an external server")
	}
	return syscall.Kill(-i.cmd.Process.Pid, syscall.SIGSTOP)
}

// Unstall resumes a server frozen by Stall (SIGCONT).
func (i *Instance) Unstall() error {
	if i.cmd == nil {
		return errors.New("chtest: cannot unstall an external server")
	}
	return syscall.Kill(-i.cmd.Process.Pid, syscall.SIGCONT)
}

// Resume restarts a suspended server on the same ports and data.
func (i *Instance) Resume(ctx context.Context) error {
	if i.argv == nil {
		return errors.New("chtest: cannot resume an external server")
	}
	return i.launch(ctx)
}

// kill stops the process group: SIGTERM, then SIGKILL after 10 s.
func (i *Instance) kill() { killGroup(i.cmd, i.done) }

// killGroup stops the process group of cmd, whose Wait closes done:
// SIGCONT (a frozen process cannot act on SIGTERM) and SIGTERM, then
// SIGKILL after 10 s.
func killGroup(cmd *exec.Cmd, done <-chan struct{}) {
	pgid := cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGCONT)
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	_ = syscall.Kill(-pgid, syscall.SIGCONT) // a stalled server must run to stop
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-done
	}
}

// wait polls until the server answers a query, it exits, or ctx ends.
func (i *Instance) wait(ctx context.Context) error {
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := i.ping(pctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-i.done:
			return fmt.Errorf("clickhouse-server exited during start-up: %w", err)
		case <-ctx.Done():
			return fmt.Errorf("clickhouse-server did not answer: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (i *Instance) ping(ctx context.Context) error {
	conn, err := i.open()
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Ping(ctx)
}

func (i *Instance) open() (clickhouse.Conn, error) {
	opts, err := clickhouse.ParseDSN(i.base.String())
	if err != nil {
		return nil, fmt.Errorf("chtest: %w", err)
	}
	opts.DialTimeout = 2 * time.Second
	opts.MaxOpenConns = 1
	return clickhouse.Open(opts)
}

// logTail returns the end of the server's logs, to explain a failed start.
func (i *Instance) logTail() string {
	var b bytes.Buffer
	for _, name := range []string{"stdout.log", "server.err.log"} {
		data, err := os.ReadFile(filepath.Join(i.dir, name))
		if err != nil || len(data) == 0 {
			continue
		}
		if len(data) > 4000 {
			data = data[len(data)-4000:]
		}
		fmt.Fprintf(&b, "--- %s ---\n%s\n", name, data)
	}
	return b.String()
}

// DSN returns the server's DSN without a database.
func (i *Instance) DSN() string { return i.base.String() }

// Database creates a database with a random name and returns a DSN for it.
// It is dropped when the test ends.
func (i *Instance) Database(t testing.TB) string {
	t.Helper()
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		t.Fatal(err)
	}
	name := "test_" + hex.EncodeToString(rnd[:])
	conn, err := i.open()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		conn.Close()
		t.Fatalf("chtest: create database: %v", err)
	}
	t.Cleanup(func() {
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name); err != nil {
			t.Logf("chtest: drop database %s: %v", name, err)
		}
	})
	u := *i.base
	u.Path = "/" + name
	return u.String()
}

// Pid is the private server's process id (0 for an external server), for
// benchmarks that account for its CPU time.
func (i *Instance) Pid() int {
	if i.cmd == nil {
		return 0
	}
	return i.cmd.Process.Pid
}

// Stop kills a private server's process group and removes its data. It
// does nothing for an external server.
func (i *Instance) Stop() error {
	if i.cmd == nil {
		return nil
	}
	i.kill()
	if err := os.RemoveAll(i.dir); err != nil {
		return fmt.Errorf("chtest: remove %s: %w", i.dir, err)
	}
	return nil
}

// configXML is a minimal server config: everything lives under dir, only
// loopback listens, caches are small (the defaults reserve gigabytes) and
// the time zone is UTC so DateTime values mean the same everywhere.
// extra is inserted before the end of the config (the cluster settings).
func configXML(dir string, tcp, http, interserver int, extra string) string {
	return fmt.Sprintf(`<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>%[1]s/server.log</log>
        <errorlog>%[1]s/server.err.log</errorlog>
        <size>100M</size>
        <count>1</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>%[2]d</tcp_port>
    <http_port>%[3]d</http_port>
    <interserver_http_port>%[4]d</interserver_http_port>
    <interserver_http_host>127.0.0.1</interserver_http_host>
    <path>%[1]s/data/</path>
    <tmp_path>%[1]s/tmp/</tmp_path>
    <user_files_path>%[1]s/user_files/</user_files_path>
    <format_schema_path>%[1]s/format_schemas/</format_schema_path>
    <users_config>%[1]s/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mark_cache_size>268435456</mark_cache_size>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <max_concurrent_queries>100</max_concurrent_queries>
    <mlock_executable>false</mlock_executable>
%[5]s</yandex>
`, dir, tcp, http, interserver, extra)
}

// usersXML has one user, default, without a password, reachable only from
// loopback (the server listens nowhere else anyway).
const usersXML = `<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks>
                <ip>127.0.0.1</ip>
                <ip>::1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
`
