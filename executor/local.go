//go:build unix

package executor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// LocalLauncher runs each attempt as a child process of this server, in a
// process group of its own so that a timeout or a cancel stops everything
// the command started.
type LocalLauncher struct {
	// Grace is how long a process group has between SIGTERM and SIGKILL;
	// 0 means DefaultGrace.
	Grace time.Duration
	// Environ is the base environment under Job.Env; nil means os.Environ.
	Environ func() []string
	// Log receives launch and stop records (env names, never values); nil
	// means slog.Default().
	Log *slog.Logger
}

// DefaultGrace is the time between SIGTERM and SIGKILL when Grace is 0.
const DefaultGrace = 10 * time.Second

// drainWait bounds how long output is read after a process group is gone:
// a process that left the group (setsid) may hold the pipes open forever.
const drainWait = time.Second

var _ Launcher = (*LocalLauncher)(nil)

// Launch runs the job's argv with its dir and env and waits for it. The
// program is looked up in the server's PATH unless it contains a '/'
// (relative paths are relative to Dir).
func (l *LocalLauncher) Launch(ctx context.Context, job Job, out LineFunc) Outcome {
	log := l.logger().With("run_id", job.RunID, "asset", string(job.Asset), "attempt", job.Attempt)
	if len(job.Argv) == 0 || job.Argv[0] == "" {
		return Outcome{Err: &StartError{Err: errors.New("empty argv")}}
	}
	if err := ctx.Err(); err != nil {
		return Outcome{Err: canceledErr(ctx)}
	}
	// exec reports a bad directory as "fork/exec PROGRAM: no such file or
	// directory", which blames the program: check the directory first.
	if job.Dir != "" {
		if fi, err := os.Stat(job.Dir); err != nil {
			return Outcome{Err: &StartError{Err: fmt.Errorf("working directory: %w", err)}}
		} else if !fi.IsDir() {
			return Outcome{Err: &StartError{Err: fmt.Errorf("working directory %s is not a directory", job.Dir)}}
		}
	}
	cmd := exec.Command(job.Argv[0], job.Argv[1:]...)
	cmd.Dir = job.Dir
	cmd.Env = append(l.environ(), job.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}

	outR, outW, err := os.Pipe()
	if err != nil {
		return Outcome{Err: &StartError{Err: fmt.Errorf("stdout pipe: %w", err)}}
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		closeAll(outR, outW)
		return Outcome{Err: &StartError{Err: fmt.Errorf("stderr pipe: %w", err)}}
	}
	cmd.Stdout, cmd.Stderr = outW, errW

	if log.Enabled(ctx, slog.LevelDebug) {
		log.Debug("start process", "argv", job.Argv, "dir", job.Dir, "env", envNames(job.Env))
	}
	startErr := cmd.Start()
	started := time.Now()
	closeAll(outW, errW) // the child has its copies
	if startErr != nil {
		closeAll(outR, errR)
		log.Info("step did not start", "error", startErr)
		return Outcome{Err: &StartError{Err: startErr}}
	}

	if job.OnStart != nil {
		p := Process{PID: cmd.Process.Pid}
		// The process is not reaped before Launch returns, so its pid is
		// still its own.
		p.Start, _ = procStartTime(p.PID)
		job.OnStart(p)
	}

	var (
		readers sync.WaitGroup
		tail    TailBuffer
	)
	readers.Add(2)
	go func() { defer readers.Done(); readLines(outR, Stdout, out, nil) }()
	go func() { defer readers.Done(); readLines(errR, Stderr, out, &tail) }()

	g := &group{pgid: cmd.Process.Pid, grace: l.grace()}
	exited, reap := watchExit(cmd)
	var timeout <-chan time.Time
	if job.Timeout > 0 {
		t := time.NewTimer(job.Timeout)
		defer t.Stop()
		timeout = t.C
	}

	var stopErr error // why we stopped it, if we did
	select {
	case <-exited:
	case <-timeout:
		stopErr = &TimeoutError{After: job.Timeout}
		log.Info("step timed out; stopping its process group", "timeout", job.Timeout)
		g.stop(exited)
	case <-ctx.Done():
		stopErr = canceledErr(ctx)
		log.Info("step canceled; stopping its process group")
		g.stop(exited)
	}
	// The main process has exited (and is not reaped yet where the platform
	// allows, so its pid still names the group): stop what is left of it.
	drained := waitAll(&readers)
	g.stopStragglers(drained)
	waitErr := reap()
	ended := time.Now()
	select {
	case <-drained:
	case <-time.After(drainWait):
		log.Warn("step output still open after its process group ended; closing it")
	}
	closeAll(outR, errR)
	<-drained

	o := Outcome{Started: started, Ended: ended}
	switch e := stopErr.(type) {
	case nil:
		o.Err = exitError(waitErr, cmd.ProcessState, tail.String())
	case *TimeoutError:
		e.Stderr = tail.String()
		o.Err = e
	default:
		o.Err = stopErr
	}
	log.Debug("step ended", "duration", o.Duration(), "error", o.Err)
	return o
}

func (l *LocalLauncher) logger() *slog.Logger {
	if l.Log != nil {
		return l.Log
	}
	return slog.Default()
}

func (l *LocalLauncher) grace() time.Duration {
	if l.Grace > 0 {
		return l.Grace
	}
	return DefaultGrace
}

func (l *LocalLauncher) environ() []string {
	if l.Environ != nil {
		return l.Environ()
	}
	return os.Environ()
}

// exitError turns a finished process's status into an Outcome error.
func exitError(waitErr error, st *os.ProcessState, tail string) error {
	if st == nil {
		if waitErr == nil {
			return nil
		}
		return fmt.Errorf("wait: %w", waitErr)
	}
	if st.Success() {
		return nil
	}
	e := &ExitError{Code: st.ExitCode(), Stderr: tail}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		e.Signal = signalName(ws.Signal())
	}
	return e
}

func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGKILL:
		return "SIGKILL"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGHUP:
		return "SIGHUP"
	case syscall.SIGSEGV:
		return "SIGSEGV"
	case syscall.SIGABRT:
		return "SIGABRT"
	case syscall.SIGPIPE:
		return "SIGPIPE"
	}
	return fmt.Sprintf("%d (%v)", int(s), s)
}

// group is a step's process group.
type group struct {
	pgid  int
	grace time.Duration
}

// stop sends SIGTERM to the group, waits up to the grace period for the
// main process to exit, then sends SIGKILL to the whole group whatever
// happened (a grandchild may ignore SIGTERM), and waits for the exit.
func (g *group) stop(exited <-chan struct{}) {
	g.signal(syscall.SIGTERM)
	t := time.NewTimer(g.grace)
	defer t.Stop()
	select {
	case <-exited:
	case <-t.C:
	}
	g.signal(syscall.SIGKILL)
	<-exited
}

// stopStragglers stops processes left in the group after its main process
// exited: SIGTERM, then SIGKILL once their output is closed or the grace
// period is over. Without stragglers it costs two signals.
func (g *group) stopStragglers(outputClosed <-chan struct{}) {
	g.signal(syscall.SIGTERM)
	t := time.NewTimer(g.grace)
	defer t.Stop()
	select {
	case <-outputClosed:
	case <-t.C:
	}
	g.signal(syscall.SIGKILL)
}

func (g *group) signal(sig syscall.Signal) {
	// ESRCH (nobody left) is the normal case after a clean exit.
	_ = syscall.Kill(-g.pgid, sig)
}

// waitAll returns a channel closed when wg is done.
func waitAll(wg *sync.WaitGroup) <-chan struct{} {
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	return ch
}

func closeAll(fs ...*os.File) {
	for _, f := range fs {
		_ = f.Close()
	}
}
