package executor

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/executor/pipes"
)

// buildPipesChild compiles pipes/testdata/pipeschild, a Pipes child
// written from the protocol's specification without Freshet's code.
func buildPipesChild(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "pipeschild")
	out, err := exec.Command("go", "build", "-o", bin, "./pipes/testdata/pipeschild").CombinedOutput()
	if err != nil {
		tb.Fatalf("build pipeschild: %v\n%s", err, out)
	}
	return bin
}

// pipesModes are the context and channel combinations the executor offers.
var pipesModes = []struct {
	name string
	opts PipesOptions
	form string // how the child finds its context
}{
	{"default", PipesOptions{}, "data"},
	{"file-file", PipesOptions{Context: pipes.ContextFile}, "path"},
	{"file-stderr", PipesOptions{Context: pipes.ContextFile, Messages: pipes.ChannelStderr}, "path"},
	{"env-stdout", PipesOptions{Context: pipes.ContextEnv, Messages: pipes.ChannelStdout}, "data"},
}

func (s *sink) texts(key asset.Key, stream Stream) []string {
	var out []string
	for _, l := range s.logTexts(key) {
		if l.Stream == stream {
			out = append(out, l.Text)
		}
	}
	return out
}

// TestPipesReports: every kind of message, in every mode, reaches the
// Recorder and the LogSink as documented.
func TestPipesReports(t *testing.T) {
	t.Parallel()
	child := buildPipesChild(t)
	for _, m := range pipesModes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			opts := m.opts
			opts.Dir = t.TempDir()
			opts.Extras = map[string]any{"team": "growth"}
			e, s := newExec(t, Options{Pipes: opts})
			sp := spec("marts/revenue", nil, child, "report")
			sp.CodeVersion = "v7"
			sp.Partitions = &asset.PartitionsSpec{Type: "daily"}
			p, err := NewPlan([]asset.Spec{sp}, []string{"marts/revenue"})
			if err != nil {
				t.Fatal(err)
			}
			r, err := e.Start(t.Context(), p, RunRequest{Partition: "2026-01-02"})
			if err != nil {
				t.Fatal(err)
			}
			res := wait(t, r)
			if res.Status != RunSuccess {
				t.Fatalf("run %s: %s", res.Status, res.Reason)
			}

			evs := s.eventsFor("marts/revenue")
			if len(evs) != 3 {
				t.Fatalf("events: %+v", evs)
			}
			for _, ev := range evs {
				if ev.RunID != r.ID || ev.Partition != "2026-01-02" || ev.ID == "" || ev.Time.IsZero() {
					t.Errorf("event %+v lacks run, partition, id or time", ev)
				}
			}
			nn, fresh, mat := evs[0], evs[1], evs[2]
			if nn.Kind != asset.KindCheckResult || *nn.Check != (asset.CheckResult{Name: "not_null", Passed: true, Severity: asset.SeverityError}) || !reflect.DeepEqual(nn.Metadata, asset.Metadata{"nulls": asset.Int(0)}) {
				t.Errorf("not_null check: %+v %+v", nn, nn.Check)
			}
			if fresh.Kind != asset.KindCheckResult || *fresh.Check != (asset.CheckResult{Name: "fresh_enough", Passed: false, Severity: asset.SeverityWarn}) || fresh.Metadata != nil {
				t.Errorf("fresh_enough check: %+v %+v", fresh, fresh.Check)
			}
			if mat.Kind != asset.KindMaterialization {
				t.Fatalf("last event %+v", mat)
			}
			want := asset.Metadata{
				"rows": asset.Int(120), "ratio": asset.Float(0.25), "whole": asset.Float(2), "ok": asset.Bool(true),
				"note": asset.Text("hello"), "readme": asset.Text("# Title"), "where": asset.Text("/data/out.parquet"),
				"link": asset.URL("https://example.com/run"), "schema": asset.JSONValue(`{"columns":["id","amount"]}`),
				"table": asset.JSONValue(`{"records":[]}`), "loaded_at": asset.Float(1700000000.5),
				"inferred_n": asset.Int(7), "inferred_u": asset.URL("s3://bucket/key"),
				MetaDataVersion: asset.Text("v42"), MetaAttempts: asset.Int(1),
			}
			d := mat.Metadata[MetaDuration]
			if d.Type != asset.MetaFloat || d.Float == 9999 || d.Float < 0 {
				t.Errorf("duration_s = %+v: the executor's own value must win", d)
			}
			delete(mat.Metadata, MetaDuration)
			if !reflect.DeepEqual(mat.Metadata, want) {
				t.Errorf("materialization metadata:\n got %v\nwant %v", mat.Metadata, want)
			}

			pipesLines := s.texts("marts/revenue", PipesStream)
			if !slices.Contains(pipesLines, "[info] loading rows") || !slices.Contains(pipesLines, "[warning] slow source") {
				t.Errorf("pipes log lines: %q", pipesLines)
			}
			if got := s.texts("marts/revenue", Stdout); !slices.Equal(got, []string{"plain stdout line"}) {
				t.Errorf("stdout lines %q: messages must not show as output", got)
			}
			if got := s.texts("marts/revenue", Stderr); len(got) != 0 {
				t.Errorf("stderr lines %q", got)
			}

			var custom map[string]any
			for _, l := range pipesLines {
				if rest, ok := strings.CutPrefix(l, "[custom] "); ok {
					if err := json.Unmarshal([]byte(rest), &custom); err != nil {
						t.Fatalf("custom message %q: %v", rest, err)
					}
				}
			}
			wantCtx := map[string]any{
				"form":                      m.form,
				"asset_keys":                []any{"marts/revenue"},
				"run_id":                    r.ID,
				"retry_number":              0.0,
				"partition_key":             "2026-01-02",
				"partition_key_range":       map[string]any{"start": "2026-01-02", "end": "2026-01-02"},
				"partition_time_window":     map[string]any{"start": "2026-01-02T00:00:00+00:00", "end": "2026-01-03T00:00:00+00:00"},
				"code_version_by_asset_key": map[string]any{"marts/revenue": "v7"},
				"provenance_by_asset_key":   map[string]any{"marts/revenue": nil},
				"job_name":                  nil,
				"extras":                    map[string]any{"team": "growth"},
			}
			for k, v := range wantCtx {
				if !reflect.DeepEqual(custom[k], v) {
					t.Errorf("the child read %s = %#v, want %#v", k, custom[k], v)
				}
			}
			env, _ := custom["env"].(map[string]any)
			if env["FRESHET_RUN_ID"] != r.ID || env["FRESHET_ASSET"] != "marts/revenue" || env["FRESHET_PARTITION"] != "2026-01-02" || !traceparentRE.MatchString(env["TRACEPARENT"].(string)) {
				t.Errorf("the child's env: %v", env)
			}

			if st := e.PipesStats(); st != (PipesStats{Messages: 8}) {
				t.Errorf("stats %+v, want 8 messages", st)
			}
			if left, _ := os.ReadDir(opts.Dir); len(left) != 0 {
				t.Errorf("session files left behind: %v", left)
			}
		})
	}
}

// TestPipesSilent: a child that reports nothing still yields one
// materialization, as before Pipes.
func TestPipesSilent(t *testing.T) {
	t.Parallel()
	child := buildPipesChild(t)
	e, s := newExec(t, Options{Pipes: PipesOptions{Dir: t.TempDir()}})
	res := runPlan(t, e, []asset.Spec{spec("quiet", nil, child, "silent")}, "quiet")
	if res.Status != RunSuccess {
		t.Fatalf("run %s: %s", res.Status, res.Reason)
	}
	evs := s.eventsFor("quiet")
	if len(evs) != 1 || evs[0].Kind != asset.KindMaterialization || len(evs[0].Metadata) != 2 || evs[0].Metadata[MetaAttempts] != asset.Int(1) {
		t.Errorf("events %+v", evs)
	}
	if l := s.logTexts("quiet"); len(l) != 0 {
		t.Errorf("log lines %+v", l)
	}
	if st := e.PipesStats(); st != (PipesStats{}) {
		t.Errorf("stats %+v", st)
	}
}

// TestPipesMalformed: broken messages are counted and described, never
// fatal; the good ones around them count.
func TestPipesMalformed(t *testing.T) {
	t.Parallel()
	child := buildPipesChild(t)
	for _, m := range pipesModes[1:3] { // a file channel and a stdio one
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			opts := m.opts
			opts.Dir = t.TempDir()
			e, s := newExec(t, Options{Pipes: opts})
			res := runPlan(t, e, []asset.Spec{spec("noisy", nil, child, "malformed")}, "noisy")
			if res.Status != RunSuccess {
				t.Fatalf("run %s: %s", res.Status, res.Reason)
			}
			if st := e.PipesStats(); st != (PipesStats{Messages: 3, Malformed: 4}) {
				t.Errorf("stats %+v, want 3 messages and 4 malformed", st)
			}
			evs := s.eventsFor("noisy")
			if len(evs) != 1 || evs[0].Kind != asset.KindMaterialization || evs[0].Metadata["kept"] != asset.Int(5) {
				t.Fatalf("events %+v", evs)
			}
			if _, ok := evs[0].Metadata["rows"]; ok {
				t.Errorf("the bad entry was recorded: %v", evs[0].Metadata)
			}
			var warned []string
			lines := s.texts("noisy", PipesStream)
			for _, l := range lines {
				if strings.HasPrefix(l, "[warn] Pipes message ignored: ") {
					warned = append(warned, l)
				}
			}
			joined := strings.Join(warned, "\n")
			for _, w := range []string{`unknown method "no_such_method"`, "no check_name", "not JSON", `metadata "rows": int value "many"`} {
				if !strings.Contains(joined, w) {
					t.Errorf("no warning says %q:\n%s", w, joined)
				}
			}
			if len(warned) != 4 || !slices.Contains(lines, "[info] still here") {
				t.Errorf("pipes lines %q", lines)
			}
			for _, st := range []Stream{Stdout, Stderr} {
				if got := s.texts("noisy", st); len(got) != 0 {
					t.Errorf("%s lines %q", st, got)
				}
			}
		})
	}
}

// TestPipesFailure: a child that exits non-zero fails with the tail of its
// stderr and the exception it closed with; its logs say the rest.
func TestPipesFailure(t *testing.T) {
	t.Parallel()
	child := buildPipesChild(t)
	e, s := newExec(t, Options{Pipes: PipesOptions{Dir: t.TempDir()}})
	res := runPlan(t, e, []asset.Spec{spec("broken", nil, child, "fail")}, "broken")
	st := res.Step("broken")
	const want = "exit status 1; stderr: Traceback (most recent call last): | ValueError: bad input; exception: ValueError: bad input"
	if res.Status != RunFailure || st.Status != StepFailure || st.Reason != want {
		t.Errorf("step %+v\nwant reason %q", st, want)
	}
	evs := s.eventsFor("broken")
	if len(evs) != 1 || evs[0].Kind != asset.KindMaterializationFailed || evs[0].Metadata[MetaError] != asset.Text(want) {
		t.Errorf("events %+v", evs)
	}
	lines := s.texts("broken", PipesStream)
	if len(lines) < 3 || lines[0] != "[error] about to fail" || lines[1] != "[error] closed with exception: ValueError: bad input" || !strings.Contains(lines[2], `File "job.py", line 3`) {
		t.Errorf("pipes lines %q", lines)
	}
}

// TestPipesDisabled: no variables, no session files, output untouched.
func TestPipesDisabled(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, "env")
	sp := spec("plain", nil, "sh", "-c", `env > "$0"; echo '{"__dagster_pipes_version": "0.1", "method": "log", "params": {"message": "x"}}' >&2`, out)
	sp.Materialize.Env = map[string]string{pipes.EnvMessages: "mine"}
	e, s := newExec(t, Options{Pipes: PipesOptions{Disabled: true, Dir: dir}})
	if res := runPlan(t, e, []asset.Spec{sp}, "plain"); res.Status != RunSuccess {
		t.Fatalf("run %s: %s", res.Status, res.Reason)
	}
	b, _ := os.ReadFile(out)
	if strings.Contains(string(b), pipes.EnvContext) || !strings.Contains(string(b), pipes.EnvMessages+"=mine") {
		t.Errorf("env with Pipes disabled:\n%s", b)
	}
	if got := s.texts("plain", Stderr); len(got) != 1 {
		t.Errorf("stderr %q", got)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("files in the pipes dir: %v", ents)
	}
}

func TestTimeWindow(t *testing.T) {
	t.Parallel()
	hourly := &asset.PartitionsSpec{Type: "hourly"}
	if w := timeWindow(hourly, "2026-01-02-23:00"); w == nil || *w != (pipes.TimeWindow{Start: "2026-01-02T23:00:00+00:00", End: "2026-01-03T00:00:00+00:00"}) {
		t.Errorf("hourly window %+v", w)
	}
	for _, c := range []struct {
		p   *asset.PartitionsSpec
		key string
	}{
		{nil, "2026-01-02"},
		{&asset.PartitionsSpec{Type: "static", Values: []string{"eu"}}, "eu"},
		{&asset.PartitionsSpec{Type: "daily"}, "eu"},
		{hourly, "2026-01-02-23:30"},
	} {
		if w := timeWindow(c.p, c.key); w != nil {
			t.Errorf("timeWindow(%+v, %q) = %+v, want nil", c.p, c.key, w)
		}
	}
}

// TestPipesCheckOnFailedAttempt: check results are facts whatever the
// attempt's end; a materialization report of a failed attempt is not.
func TestPipesCheckOnFailedAttempt(t *testing.T) {
	t.Parallel()
	child := buildPipesChild(t)
	sp := spec("a", nil, child, "checkfail")
	sp.Materialize.Retries = 1
	e, s := newExec(t, Options{Pipes: PipesOptions{Dir: t.TempDir()}})
	res := runPlan(t, e, []asset.Spec{sp}, "a")
	if st := res.Step("a"); st.Status != StepFailure || st.Attempts != 2 {
		t.Fatalf("step %+v", st)
	}
	var kinds []asset.Kind
	for _, ev := range s.eventsFor("a") {
		kinds = append(kinds, ev.Kind)
		if ev.Kind == asset.KindMaterializationFailed && len(ev.Metadata) != 3 {
			t.Errorf("failed materialization carries the report: %v", ev.Metadata)
		}
	}
	if !slices.Equal(kinds, []asset.Kind{asset.KindCheckResult, asset.KindCheckResult, asset.KindMaterializationFailed}) {
		t.Errorf("kinds %v", kinds)
	}
}
