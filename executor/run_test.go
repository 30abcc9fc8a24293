package executor

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// interval is a step's life as its child process saw it.
type interval struct {
	name       string
	start, end int64 // unix ns, from the child's own clock reads
}

// intervalScript writes "start NS" and "end NS" lines to $1 around a sleep.
const intervalScript = `echo "start $(date +%s%N)" > "$1"; sleep 0.2; echo "end $(date +%s%N)" >> "$1"`

func readIntervals(t *testing.T, dir string) []interval {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.iv"))
	var out []interval
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var iv interval
		iv.name = strings.TrimSuffix(filepath.Base(f), ".iv")
		if _, err := fmt.Sscanf(string(b), "start %d\nend %d\n", &iv.start, &iv.end); err != nil {
			t.Fatalf("%s: %q: %v", f, b, err)
		}
		out = append(out, iv)
	}
	return out
}

// maxOverlap is the most intervals (of those keep accepts) open at once.
func maxOverlap(ivs []interval, keep func(interval) bool) int {
	type edge struct {
		at    int64
		delta int
	}
	var edges []edge
	for _, iv := range ivs {
		if keep(iv) {
			edges = append(edges, edge{iv.start, +1}, edge{iv.end, -1})
		}
	}
	sort.Slice(edges, func(i, j int) bool {
		if edges[i].at != edges[j].at {
			return edges[i].at < edges[j].at
		}
		return edges[i].delta < edges[j].delta // an end before a start at the same instant
	})
	cur, best := 0, 0
	for _, e := range edges {
		cur += e.delta
		best = max(best, cur)
	}
	return best
}

func TestRunRespectsLimits(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	prog := script(t, dir, "step.sh", intervalScript)
	var specs []asset.Spec
	for i := range 6 {
		s := spec(fmt.Sprintf("free/%d", i), nil, prog, filepath.Join(dir, fmt.Sprintf("free-%d.iv", i)))
		specs = append(specs, s)
		s = spec(fmt.Sprintf("wh/%d", i), nil, prog, filepath.Join(dir, fmt.Sprintf("wh-%d.iv", i)))
		s.Materialize.Pool = "warehouse"
		specs = append(specs, s)
	}
	e, _ := newExec(t, Options{Limits: Limits{MaxConcurrent: 3, Pools: map[string]int{"warehouse": 1}}})
	// Two runs at once share the executor's limits.
	var wg sync.WaitGroup
	results := make([]Result, 2)
	for i, sel := range [][]string{{"free/0", "free/1", "free/2", "wh/0", "wh/1", "wh/2"}, {"free/3", "free/4", "free/5", "wh/3", "wh/4", "wh/5"}} {
		wg.Go(func() { results[i] = runPlan(t, e, specs, sel...) })
	}
	wg.Wait()
	for _, r := range results {
		if r.Status != RunSuccess {
			t.Fatalf("run %s: %s %s", r.ID, r.Status, r.Reason)
		}
	}
	ivs := readIntervals(t, dir)
	if len(ivs) != 12 {
		t.Fatalf("%d intervals, want 12", len(ivs))
	}
	all := maxOverlap(ivs, func(interval) bool { return true })
	pool := maxOverlap(ivs, func(iv interval) bool { return strings.HasPrefix(iv.name, "wh-") })
	if all > 3 || pool > 1 {
		t.Errorf("max concurrent steps = %d (limit 3), in pool warehouse = %d (limit 1)", all, pool)
	}
	if all < 2 {
		t.Errorf("max concurrent steps = %d: independent steps did not run in parallel", all)
	}
}

func TestRunOrderAndEvents(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	prog := script(t, dir, "step.sh", intervalScript)
	iv := func(name string) string { return filepath.Join(dir, name+".iv") }
	specs := []asset.Spec{
		spec("a", nil, prog, iv("a")),
		spec("b", []string{"a"}, prog, iv("b")),
		spec("c", []string{"a"}, prog, iv("c")),
		spec("d", []string{"b", "c"}, prog, iv("d")),
	}
	e, s := newExec(t, Options{Limits: Limits{MaxConcurrent: 4}})
	res := runPlan(t, e, specs, "+d")
	if res.Status != RunSuccess {
		t.Fatalf("run: %s %s", res.Status, res.Reason)
	}
	byName := map[string]interval{}
	for _, x := range readIntervals(t, dir) {
		byName[x.name] = x
	}
	for _, edge := range [][2]string{{"a", "b"}, {"a", "c"}, {"b", "d"}, {"c", "d"}} {
		if up, down := byName[edge[0]], byName[edge[1]]; down.start < up.end {
			t.Errorf("%s started before %s ended", edge[1], edge[0])
		}
	}
	if got := s.runStatuses(); !slices.Equal(got, []RunStatus{RunQueued, RunStarting, RunStarted, RunSuccess}) {
		t.Errorf("run statuses = %v", got)
	}
	if got := s.stepStatuses("d"); !slices.Equal(got, []StepStatus{StepStarted, StepSuccess}) {
		t.Errorf("step d statuses = %v", got)
	}
	for _, k := range []asset.Key{"a", "b", "c", "d"} {
		evs := s.eventsFor(k)
		if len(evs) != 1 {
			t.Fatalf("%s: %d events, want 1", k, len(evs))
		}
		ev := evs[0]
		d, ok := ev.Metadata[MetaDuration]
		if ev.Kind != asset.KindMaterialization || ev.RunID != res.ID || ev.ID == "" || ev.Time.IsZero() || !ok || d.Type != asset.MetaFloat || d.Float < 0.15 || d.Float > deadline.Seconds() {
			t.Errorf("%s: event %+v", k, ev)
		}
		if a := ev.Metadata[MetaAttempts]; a.Int != 1 {
			t.Errorf("%s: attempts = %+v", k, a)
		}
	}
}

func TestRunRetries(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// Fails on attempts 1 and 2, succeeds on 3; $1 counts attempts.
	prog := script(t, dir, "flaky.sh", `n=$(($(cat "$1" 2>/dev/null || echo 0) + 1)); echo $n > "$1"; [ $n -ge 3 ] || { echo "attempt $n failed" >&2; exit 1; }`)
	counter := filepath.Join(dir, "count")
	flaky := spec("flaky", nil, prog, counter)
	flaky.Materialize.Retries = 2
	never := spec("never", nil, "sh", "-c", "echo nope >&2; exit 7")
	never.Materialize.Retries = 1
	backoff := Backoff{Initial: 20 * time.Millisecond, Max: time.Second, Jitter: 0.5}
	e, s := newExec(t, Options{Backoff: backoff})
	res := runPlan(t, e, []asset.Spec{flaky, never}, "flaky", "never")

	if st := res.Step("flaky"); st.Status != StepSuccess || st.Attempts != 3 {
		t.Errorf("flaky: %+v, want SUCCESS after 3 attempts", st)
	}
	if b, _ := os.ReadFile(counter); strings.TrimSpace(string(b)) != "3" {
		t.Errorf("the child ran %q times, want 3", b)
	}
	if got := s.stepStatuses("flaky"); !slices.Equal(got, []StepStatus{StepStarted, StepUpForRetry, StepStarted, StepUpForRetry, StepStarted, StepSuccess}) {
		t.Errorf("flaky statuses = %v", got)
	}
	// Exponential backoff with jitter: retry n waits in [d/2, d], d = 20ms * 2^(n-1).
	var waits []time.Duration
	s.mu.Lock()
	for _, u := range s.steps {
		if u.Asset == "flaky" && u.Status == StepUpForRetry {
			waits = append(waits, u.RetryIn)
			if !strings.Contains(u.Reason, fmt.Sprintf("attempt %d failed", u.Attempt)) {
				t.Errorf("retry reason %q lacks the stderr", u.Reason)
			}
		}
	}
	s.mu.Unlock()
	if len(waits) != 2 || waits[0] < 10*time.Millisecond || waits[0] > 20*time.Millisecond || waits[1] < 20*time.Millisecond || waits[1] > 40*time.Millisecond {
		t.Errorf("retry waits = %v, want [10ms..20ms, 20ms..40ms]", waits)
	}
	if st := res.Step("never"); st.Status != StepFailure || st.Attempts != 2 || !strings.Contains(st.Reason, "exit status 7; stderr: nope") {
		t.Errorf("never: %+v, want FAILURE after 2 attempts with the stderr", st)
	}
	if evs := s.eventsFor("never"); len(evs) != 1 || evs[0].Kind != asset.KindMaterializationFailed || evs[0].Metadata[MetaAttempts].Int != 2 {
		t.Errorf("never: events %+v, want one materialization_failed", evs)
	}
	if res.Status != RunFailure {
		t.Errorf("run status = %s", res.Status)
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	b := Backoff{Initial: time.Second, Max: 10 * time.Second, Jitter: 0.5}
	for _, tt := range []struct {
		n    int
		r    float64
		want time.Duration
	}{
		{1, 0, time.Second}, {1, 0.999999, 500*time.Millisecond + time.Microsecond}, {2, 0, 2 * time.Second},
		{3, 0.5, 3 * time.Second}, {4, 0, 8 * time.Second}, {5, 0, 10 * time.Second}, {60, 0, 10 * time.Second},
	} {
		got := b.Delay(tt.n, tt.r)
		if diff := got - tt.want; diff < -time.Microsecond || diff > time.Microsecond {
			t.Errorf("Delay(%d, %v) = %v, want %v", tt.n, tt.r, got, tt.want)
		}
	}
	if got := (Backoff{}).Delay(1, 0); got != time.Second {
		t.Errorf("default first delay = %v", got)
	}
}

func TestRunSkipsDownstreamOfFailure(t *testing.T) {
	t.Parallel()
	specs := []asset.Spec{
		spec("a", nil, "true"),
		spec("bad", []string{"a"}, "sh", "-c", "echo broken pipe >&2; exit 2"),
		spec("b", []string{"bad"}, "true"),
		spec("c", []string{"b"}, "true"),
		spec("side", []string{"a"}, "true"),
	}
	e, s := newExec(t, Options{})
	res := runPlan(t, e, specs, "a+")
	if res.Status != RunFailure || !strings.Contains(res.Reason, "bad") {
		t.Errorf("run: %s %q", res.Status, res.Reason)
	}
	want := map[asset.Key]StepStatus{"a": StepSuccess, "bad": StepFailure, "b": StepSkipped, "c": StepSkipped, "side": StepSuccess}
	for k, st := range want {
		if got := res.Step(k); got.Status != st {
			t.Errorf("%s: %s, want %s", k, got.Status, st)
		}
	}
	for _, k := range []asset.Key{"b", "c"} {
		if r := res.Step(k).Reason; r != "upstream step bad failed" {
			t.Errorf("%s: reason %q", k, r)
		}
		if got := s.stepStatuses(k); !slices.Equal(got, []StepStatus{StepSkipped}) {
			t.Errorf("%s statuses %v", k, got)
		}
		if evs := s.eventsFor(k); len(evs) != 0 {
			t.Errorf("%s: a skipped step recorded %v", k, evs)
		}
	}
	if r := res.Step("bad").Reason; r != "exit status 2; stderr: broken pipe" {
		t.Errorf("bad: reason %q", r)
	}
}

func TestRunStartFailures(t *testing.T) {
	t.Parallel()
	missing := spec("missing", nil, "freshet-no-such-program")
	missing.Materialize.Retries = 3
	badDir := spec("baddir", nil, "true")
	badDir.Materialize.Dir = "/nonexistent/freshet"
	down := spec("down", []string{"missing"}, "true")
	e, s := newExec(t, Options{})
	res := runPlan(t, e, []asset.Spec{missing, badDir, down}, "missing", "baddir", "down")
	if st := res.Step("missing"); st.Status != StepFailure || st.Attempts != 1 || !strings.Contains(st.Reason, `cannot start: exec: "freshet-no-such-program": executable file not found`) {
		t.Errorf("missing: %+v (not retried: it would not start next time either)", st)
	}
	if st := res.Step("baddir"); st.Status != StepFailure || !strings.Contains(st.Reason, "cannot start: working directory: stat /nonexistent/freshet: no such file or directory") {
		t.Errorf("baddir: %+v", st)
	}
	if st := res.Step("down"); st.Status != StepSkipped {
		t.Errorf("down: %+v", st)
	}
	if evs := s.eventsFor("baddir"); len(evs) != 1 || evs[0].Kind != asset.KindMaterializationFailed || !strings.Contains(evs[0].Metadata[MetaError].Text, "working directory") {
		t.Errorf("baddir events %+v", evs)
	}
	// A step that never started still has a time: an event without one is
	// refused by every store, and would stall the store writer.
	for _, k := range []asset.Key{"missing", "baddir"} {
		for _, ev := range s.eventsFor(k) {
			if ev.Time.IsZero() {
				t.Errorf("%s: event %s %s has no time", k, ev.ID, ev.Kind)
			}
		}
	}
}

func TestRunCancel(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	prog := script(t, dir, "long.sh", `sleep 1000 & echo $! > "$1"; wait`)
	specs := []asset.Spec{
		spec("long", nil, prog, pidFile),
		spec("after", []string{"long"}, "true"),
		spec("queued", nil, "true"), // waits for the only slot
	}
	e, s := newExec(t, Options{Limits: Limits{MaxConcurrent: 1}})
	p, err := NewPlan(specs, []string{"long+", "queued"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.Start(t.Context(), p, RunRequest{})
	if err != nil {
		t.Fatal(err)
	}
	pid := readPid(t, pidFile) // "long" runs: its grandchild has started
	r.Cancel()
	res := wait(t, r)
	if res.Status != RunCanceled {
		t.Errorf("run status %s", res.Status)
	}
	for _, k := range []asset.Key{"long", "after", "queued"} {
		if st := res.Step(k); st.Status != StepCanceled || !strings.Contains(st.Reason, "canceled") {
			t.Errorf("%s: %+v", k, st)
		}
	}
	if got := s.runStatuses(); !slices.Equal(got, []RunStatus{RunQueued, RunStarting, RunStarted, RunCanceling, RunCanceled}) {
		t.Errorf("run statuses %v", got)
	}
	if got := s.stepStatuses("long"); !slices.Equal(got, []StepStatus{StepStarted, StepCanceled}) {
		t.Errorf("long statuses %v", got)
	}
	if res.Step("queued").Attempts != 0 {
		t.Errorf("queued step ran")
	}
	processGone(t, pid)
	if evs := s.eventsFor("long"); len(evs) != 0 {
		t.Errorf("a canceled step recorded %v", evs)
	}

	// Canceling the context given to Start cancels the run as well.
	ctx, cancel := context.WithCancel(t.Context())
	r2, err := e.Start(ctx, p, RunRequest{})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if res := wait(t, r2); res.Status != RunCanceled {
		t.Errorf("run canceled by its context: %s", res.Status)
	}
}

func TestRunTimeoutKillsGrandchild(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	prog := script(t, dir, "hang.sh", `sleep 1000 & echo $! > "$1"; wait`)
	s := spec("hang", nil, prog, pidFile)
	s.Materialize.Timeout = 300 * time.Millisecond
	e, _ := newExec(t, Options{})
	res := runPlan(t, e, []asset.Spec{s}, "hang")
	if st := res.Step("hang"); st.Status != StepFailure || !strings.HasPrefix(st.Reason, "timed out after 300ms") {
		t.Errorf("hang: %+v", st)
	}
	processGone(t, readPid(t, pidFile))
}

var traceparentRE = regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-01$`)

func TestRunEnv(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, "env")
	s := spec("env/probe", nil, "sh", "-c", `env > "$0"`, out)
	s.Materialize.Env = map[string]string{
		"DSN":            "postgres://${FRESHET_TEST_USER}:${FRESHET_TEST_PASSWORD}@db/x",
		"LITERAL":        "$HOME costs $$5",
		"FRESHET_RUN_ID": "overridden?",
	}
	secret := "s3cr3t-value"
	lookup := func(k string) (string, bool) {
		switch k {
		case "FRESHET_TEST_USER":
			return "ana", true
		case "FRESHET_TEST_PASSWORD":
			return secret, true
		}
		return "", false
	}
	var logBuf bytes.Buffer
	var logMu sync.Mutex
	log := slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logBuf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e, _ := newExec(t, Options{LookupEnv: lookup, Log: log})
	p, err := NewPlan([]asset.Spec{s}, []string{"env/probe"})
	if err != nil {
		t.Fatal(err)
	}
	parent := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	r, err := e.Start(t.Context(), p, RunRequest{Partition: "2026-01-02", TraceParent: parent})
	if err != nil {
		t.Fatal(err)
	}
	if res := wait(t, r); res.Status != RunSuccess {
		t.Fatalf("run: %s %s", res.Status, res.Reason)
	}
	env := map[string]string{}
	b, _ := os.ReadFile(out)
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(strings.TrimSuffix(line, "\n"), "="); ok {
			env[k] = v
		}
	}
	want := map[string]string{
		"FRESHET_RUN_ID": r.ID, "FRESHET_ASSET": "env/probe", "FRESHET_PARTITION": "2026-01-02",
		"DSN": "postgres://ana:" + secret + "@db/x", "LITERAL": "$HOME costs $5",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	tp := env["TRACEPARENT"]
	if !traceparentRE.MatchString(tp) || !strings.HasPrefix(tp, "00-4bf92f3577b34da6a3ce929d0e0e4736-") || tp == parent {
		t.Errorf("TRACEPARENT = %q, want the parent's trace with a new span", tp)
	}
	if _, ok := env["PATH"]; !ok {
		t.Errorf("the server's environment is not inherited")
	}
	logMu.Lock()
	logs := logBuf.String()
	logMu.Unlock()
	if strings.Contains(logs, secret) || !strings.Contains(logs, "DSN") {
		t.Errorf("logs must name variables but never show values:\n%s", logs)
	}

	// Without a parent, every run starts a valid trace of its own.
	e2, _ := newExec(t, Options{LookupEnv: lookup})
	r2, _ := e2.Start(t.Context(), p, RunRequest{})
	wait(t, r2)
	b, _ = os.ReadFile(out)
	if m := regexp.MustCompile(`(?m)^TRACEPARENT=(.*)$`).FindStringSubmatch(string(b)); m == nil || !traceparentRE.MatchString(m[1]) {
		t.Errorf("generated TRACEPARENT: %v", m)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestRunUnsetVariable(t *testing.T) {
	t.Parallel()
	s := spec("needs/env", nil, "true")
	s.Materialize.Env = map[string]string{"TOKEN": "${FRESHET_TEST_UNSET_TOKEN}"}
	s.Materialize.Retries = 2
	e, rec := newExec(t, Options{LookupEnv: func(string) (string, bool) { return "", false }})
	res := runPlan(t, e, []asset.Spec{s}, "needs/env")
	st := res.Step("needs/env")
	if st.Status != StepFailure || st.Attempts != 0 || st.Reason != "cannot start: env TOKEN: ${FRESHET_TEST_UNSET_TOKEN} is not set in the server's environment" {
		t.Errorf("step: %+v", st)
	}
	if evs := rec.eventsFor("needs/env"); len(evs) != 1 || evs[0].Kind != asset.KindMaterializationFailed {
		t.Errorf("events %+v", evs)
	}
}

func TestRunLogs(t *testing.T) {
	t.Parallel()
	talk := spec("talk", nil, "sh", "-c", "echo one; echo two >&2; echo three")
	// 200 lines of 10 bytes (with newline) against a 1000-byte cap.
	flood := spec("flood", nil, "sh", "-c", `i=0; while [ $i -lt 200 ]; do echo "line $(printf %04d $i)"; i=$((i+1)); done`)
	e, s := newExec(t, Options{MaxLogBytes: 1000})
	start := time.Now()
	res := runPlan(t, e, []asset.Spec{talk, flood}, "talk", "flood")
	if res.Status != RunSuccess {
		t.Fatalf("run: %s %s", res.Status, res.Reason)
	}
	lines := s.logTexts("talk")
	var texts []string
	for _, l := range lines {
		texts = append(texts, string(l.Stream)+":"+l.Text)
		if l.Time.Before(start) || l.Time.After(time.Now()) || l.RunID != res.ID || l.Attempt != 1 {
			t.Errorf("line %+v", l)
		}
	}
	slices.Sort(texts) // streams are read concurrently
	if strings.Join(texts, ",") != "stderr:two,stdout:one,stdout:three" {
		t.Errorf("talk lines = %v", texts)
	}
	fl := s.logTexts("flood")
	if len(fl) != 101 {
		t.Fatalf("flood: %d lines, want 100 and the marker", len(fl))
	}
	for i, l := range fl[:100] {
		if l.Text != "line "+fmt.Sprintf("%04d", i) || l.Truncated {
			t.Fatalf("flood line %d = %+v", i, l)
		}
	}
	if m := fl[100]; !m.Truncated || m.Text != "[freshet] output truncated: the step wrote more than 1000 bytes; the rest is discarded" {
		t.Errorf("marker = %+v", m)
	}
}

func TestTraceParent(t *testing.T) {
	t.Parallel()
	tp, err := ParseTraceParent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	if err != nil || tp.Flags != 1 || tp.String() != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" {
		t.Errorf("parse: %v %v", tp, err)
	}
	for _, bad := range []string{"", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e47-00f067aa0ba902b7-01", "00-xbf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"} {
		if _, err := ParseTraceParent(bad); err == nil {
			t.Errorf("ParseTraceParent(%q) accepted", bad)
		}
	}
	for range 100 {
		if s := newTrace().child().String(); !traceparentRE.MatchString(s) {
			t.Fatalf("generated %q", s)
		}
	}
	if _, err := New(&LocalLauncher{}, Options{}).Start(t.Context(), &Plan{Steps: []Step{{Key: "a"}}}, RunRequest{TraceParent: "nope"}); err == nil {
		t.Errorf("Start accepted an invalid traceparent")
	}
}
