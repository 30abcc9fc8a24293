package runs_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/executor"
	"github.com/freshet-dev/freshet/runs"
	"github.com/freshet-dev/freshet/store"
	"github.com/freshet-dev/freshet/store/embedded"
)

// events collects what the service submits to the event log.
type events struct {
	mu  sync.Mutex
	got []asset.Event
}

func (e *events) Submit(_ context.Context, evs []asset.Event) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.got = append(e.got, evs...)
	return nil
}

func (e *events) kinds(key asset.Key) []asset.Kind {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []asset.Kind
	for _, ev := range e.got {
		if ev.Asset == key {
			out = append(out, ev.Kind)
		}
	}
	return out
}

func sh(script string, retries int) *asset.MaterializeSpec {
	return &asset.MaterializeSpec{Argv: []string{"sh", "-c", script}, Retries: retries}
}

type rig struct {
	svc    *runs.Service
	st     *embedded.Store
	events *events
	cancel context.CancelFunc
}

func newRig(t *testing.T, dir string, specs []asset.Spec) *rig {
	t.Helper()
	st, err := embedded.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	ev := &events{}
	svc := runs.New(runs.Options{Store: st, Events: ev, Launcher: &executor.LocalLauncher{Grace: time.Second},
		Limits: executor.Limits{MaxConcurrent: 4}, Owner: "test", FlushEvery: 20 * time.Millisecond,
		OrphanGrace: time.Second, Backoff: executor.Backoff{Initial: time.Millisecond, Max: time.Millisecond}})
	svc.SetSpecs(specs)
	ctx, cancel := context.WithCancel(context.Background())
	svc.Start(ctx)
	r := &rig{svc: svc, st: st, events: ev, cancel: cancel}
	t.Cleanup(r.close)
	return r
}

func (r *rig) close() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	<-r.svc.Done()
	r.st.Close()
	r.cancel = nil
}

// wait polls the store until the run is final.
func (r *rig) wait(t *testing.T, id string) (store.RunRecord, []store.StepRecord) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if err := r.svc.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		rec, steps, err := r.st.Run(context.Background(), id)
		if err == nil && executor.RunStatus(rec.Status).Done() {
			return rec, steps
		}
	}
	t.Fatalf("run %s never ended", id)
	return store.RunRecord{}, nil
}

var chain = []asset.Spec{
	{Key: "a", Materialize: sh(`echo "hello from $FRESHET_ASSET"; echo oops >&2`, 0)},
	{Key: "b", Deps: []asset.Key{"a"}, Materialize: sh("exit 3", 0)},
	{Key: "c", Deps: []asset.Key{"b"}, Materialize: sh("true", 0)},
	{Key: "src"},
}

func TestLaunchRecordsRunStepsLogsAndEvents(t *testing.T) {
	t.Parallel()
	r := newRig(t, t.TempDir(), chain)
	ctx := context.Background()
	rec, err := r.svc.Launch(ctx, runs.LaunchRequest{Selection: []string{"c", "+c"}})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Trigger != runs.TriggerManual || !slices.Equal(runs.Selection(rec), []string{"c", "+c"}) {
		t.Errorf("launched %+v", rec)
	}
	final, steps := r.wait(t, rec.ID)
	if final.Status != "FAILURE" || final.Ended.IsZero() || final.Started.IsZero() {
		t.Errorf("final run = %+v", final)
	}
	got := map[asset.Key]string{}
	for _, s := range steps {
		got[s.Asset] = s.Status
	}
	want := map[asset.Key]string{"a": "SUCCESS", "b": "FAILURE", "c": "SKIPPED"}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("step %s = %s, want %s (all: %v)", k, got[k], w, got)
		}
	}
	lines, err := r.svc.Logs(ctx, store.RunLogQuery{RunID: rec.ID})
	if err != nil {
		t.Fatal(err)
	}
	var text []string
	for i, l := range lines {
		if l.Seq != uint64(i+1) {
			t.Errorf("line %d has seq %d", i, l.Seq)
		}
		text = append(text, l.Stream+":"+l.Text)
	}
	if j := strings.Join(text, "|"); !strings.Contains(j, "stdout:hello from a") || !strings.Contains(j, "stderr:oops") {
		t.Errorf("logs = %s", j)
	}
	// a: started, materialized, run failed; b: started, failed, run failed;
	// c never started: no run events.
	if k := r.events.kinds("a"); !slices.Contains(k, asset.KindRunStarted) || !slices.Contains(k, asset.KindMaterialization) || !slices.Contains(k, asset.KindRunFailed) {
		t.Errorf("events of a = %v", k)
	}
	if k := r.events.kinds("b"); !slices.Contains(k, asset.KindMaterializationFailed) || !slices.Contains(k, asset.KindRunFailed) {
		t.Errorf("events of b = %v", k)
	}
	if k := r.events.kinds("c"); len(k) != 0 {
		t.Errorf("events of c = %v, want none (never started)", k)
	}
	if _, busy := r.svc.InFlight("a"); busy {
		t.Error("a still in flight after the run ended")
	}

	// Re-execute from failure: b and c only.
	again, err := r.svc.Reexecute(ctx, rec.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	if again.Parent != rec.ID || again.Trigger != runs.TriggerReexecute || !slices.Equal(runs.Selection(again), []string{"b", "c"}) {
		t.Errorf("re-execution = %+v", again)
	}
	r.wait(t, again.ID)

	page, err := r.svc.List(ctx, store.RunQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Runs) != 2 || page.Runs[0].ID != again.ID {
		t.Errorf("list = %+v", page.Runs)
	}
}

func TestBadRequests(t *testing.T) {
	t.Parallel()
	r := newRig(t, t.TempDir(), chain)
	ctx := context.Background()
	for _, sel := range [][]string{nil, {"nope"}, {"src"}, {"group:none"}} {
		if _, err := r.svc.Launch(ctx, runs.LaunchRequest{Selection: sel}); !errors.Is(err, runs.ErrBadSelection) {
			t.Errorf("Launch(%q) = %v, want ErrBadSelection", sel, err)
		}
	}
	if _, err := r.svc.Cancel(ctx, "no-such-run"); !errors.Is(err, runs.ErrNotFound) {
		t.Errorf("Cancel(unknown) = %v", err)
	}
	rec, err := r.svc.Launch(ctx, runs.LaunchRequest{Selection: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	r.wait(t, rec.ID)
	if _, err := r.svc.Cancel(ctx, rec.ID); !errors.Is(err, runs.ErrFinished) {
		t.Errorf("Cancel(finished) = %v", err)
	}
	if _, err := r.svc.Reexecute(ctx, rec.ID, true); !errors.Is(err, runs.ErrNothingToRetry) {
		t.Errorf("Reexecute(from failure, all succeeded) = %v", err)
	}
}

func TestCancelAndFollow(t *testing.T) {
	t.Parallel()
	r := newRig(t, t.TempDir(), []asset.Spec{{Key: "slow", Materialize: sh("echo started; sleep 60", 0)}})
	ctx := context.Background()
	rec, err := r.svc.Launch(ctx, runs.LaunchRequest{Selection: []string{"slow"}})
	if err != nil {
		t.Fatal(err)
	}
	updates, stop, ok := r.svc.Follow(rec.ID)
	if !ok {
		t.Fatal("a queued run is not followable")
	}
	defer stop()
	if id, busy := r.svc.InFlight("slow"); !busy || id != rec.ID {
		t.Errorf("InFlight = %q %v", id, busy)
	}
	var sawLog, sawCanceled bool
	for u := range updates {
		if u.Log != nil && u.Log.Text == "started" {
			sawLog = true
			if _, err := r.svc.Cancel(ctx, rec.ID); err != nil {
				t.Fatal(err)
			}
		}
		if u.Run != nil && u.Run.Status == "CANCELED" {
			sawCanceled = true
		}
	}
	if !sawLog || !sawCanceled {
		t.Errorf("followed: log %v, canceled %v", sawLog, sawCanceled)
	}
	final, steps := r.wait(t, rec.ID)
	if final.Status != "CANCELED" || len(steps) != 1 || steps[0].Status != "CANCELED" {
		t.Errorf("final %+v steps %+v", final, steps)
	}
	if k := r.events.kinds("slow"); !slices.Contains(k, asset.KindRunCanceled) {
		t.Errorf("events = %v, want run_canceled", k)
	}
}

// groupAlive lists the live processes (zombies aside: in a container
// nobody may reap a reparented grandchild) of process group pgid, waiting
// a little for a SIGTERM to take effect.
func groupAlive(t *testing.T, pgid int) []string {
	t.Helper()
	var left []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		left = left[:0]
		dirs, _ := os.ReadDir("/proc")
		for _, d := range dirs {
			b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
			if err != nil {
				continue
			}
			i := strings.LastIndexByte(string(b), ')')
			f := strings.Fields(string(b[i+2:]))
			if len(f) > 2 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" {
				left = append(left, d.Name()+" "+string(b[:i+1]))
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
	}
}

// procStart is field 22 of /proc/PID/stat: the start time in clock ticks.
func procStart(t *testing.T, pid int) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	v, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestReconcile: a run left STARTED by a dead process, whose child (and
// grandchild) still run, is ended: the process group is stopped, the
// step and run are FAILURE, events say so, and the step is retried in a
// recovery run because its asset allows retries.
func TestReconcile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	specs := []asset.Spec{{Key: "job", Materialize: sh("true", 1)}, {Key: "other", Materialize: sh("true", 0)}}
	// The orphan: a shell with a grandchild, in its own process group.
	orphan := exec.Command("sh", "-c", "sleep 60 & sleep 60")
	orphan.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := orphan.Start(); err != nil {
		t.Fatal(err)
	}
	reaped := make(chan struct{})
	go func() { orphan.Wait(); close(reaped) }()
	pid := orphan.Process.Pid
	t.Cleanup(func() { syscall.Kill(-pid, syscall.SIGKILL) })
	start := procStart(t, pid)

	st, err := embedded.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Minute).UTC()
	ctx := context.Background()
	if err := st.PutRuns(ctx, []store.RunRecord{
		{ID: "old-run", Status: "STARTED", Trigger: "manual", Selection: `["job","other"]`, Owner: "dead", Created: old, Started: old, Updated: old},
		{ID: "done-run", Status: "SUCCESS", Trigger: "manual", Selection: `["job"]`, Created: old, Ended: old, Updated: old},
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutSteps(ctx, []store.StepRecord{
		{RunID: "old-run", Asset: "job", Index: 0, Status: "STARTED", Attempts: 1, Started: old, PID: pid, PIDStart: start, Updated: old},
		{RunID: "old-run", Asset: "other", Index: 1, Status: "QUEUED", Updated: old},
	}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	r := newRig(t, dir, specs)
	got, err := r.svc.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Runs != 1 || got.Stopped != 1 || len(got.Retried) != 1 || len(got.Failures) != 0 {
		t.Errorf("reconciled %+v", got)
	}
	select {
	case <-reaped:
	case <-time.After(30 * time.Second):
		t.Fatal("the orphan was not stopped")
	}
	if left := groupAlive(t, pid); len(left) > 0 {
		t.Errorf("processes of the orphan's group survived: %v", left)
	}
	rec, steps, err := r.st.Run(ctx, "old-run")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != "FAILURE" || !strings.Contains(rec.Reason, "interrupted") {
		t.Errorf("old run = %+v", rec)
	}
	for _, s := range steps {
		if s.Status != "FAILURE" || s.PID != 0 {
			t.Errorf("step %+v", s)
		}
	}
	if k := r.events.kinds("job"); !slices.Contains(k, asset.KindMaterializationFailed) || !slices.Contains(k, asset.KindRunFailed) {
		t.Errorf("events of job = %v", k)
	}
	if k := r.events.kinds("other"); slices.Contains(k, asset.KindMaterializationFailed) {
		t.Errorf("other never started but got %v", k)
	}
	recovery, _ := r.wait(t, got.Retried[0])
	if recovery.Trigger != runs.TriggerRecovery || recovery.Parent != "old-run" || !slices.Equal(runs.Selection(recovery), []string{"job"}) || recovery.Status != "SUCCESS" {
		t.Errorf("recovery run = %+v", recovery)
	}
	// A second reconcile finds nothing left.
	if again, err := r.svc.Reconcile(ctx); err != nil || again.Runs != 0 {
		t.Errorf("second reconcile = %+v, %v", again, err)
	}
}
