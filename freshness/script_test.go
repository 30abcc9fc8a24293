package freshness

// Script tests: the freshness semantics as data, one case a few lines of
// text, in the manner of PromQL's testdata. Every testdata/*.txt file runs as
// a subtest, every case in it as a parallel subtest of that.
//
// Format (one directive a line; '#' starts a comment line; blank lines are ignored):
//
//	case <name...>                   start a case; nothing carries over from the previous one
//	graph a -> b -> c                edges a->b and b->c; "x,y -> z" is x->z and y->z; "graph a" adds a node
//	policy <key> max_lag=2h [warn_after=1h]
//	policy <key> cron="0 7 * * *" [tz=Europe/Paris] max_lag=1h
//	materializable <key>...          the assets have a materialize command
//	partitions <key> daily|hourly [start=<time>] | static values=a,b
//	mat  <key> at=<time> [data_time=<time>] [upstream=a,b] [duration=<dur>] [id=<id>] [partition=<p>] [run=<run id>]
//	fail <key> at=<time> [run=<run id>]  a materialization_failed event
//	start <key> at=<time> run=<run id>   a run_started event: a run of the asset in flight
//	end <key> at=<time> run=<run id> [status=succeeded|failed|canceled]  a run_<status> event
//	obs  <key> at=<time> [data_time=<time>]
//	seen <key> at=<time>             the loop first saw the asset (starts a never-materialized asset's grace)
//	now <time>                       the clock for the expectations that follow
//	expect <key> <STATE> [lag=<dur>] [root=<key>|root=-] [deadline=<time>]
//	       [predicted=<time>] [data_time=<time>] [reason="<substring>"] [reason!="<substring>"]
//	expect-error "<substring>"       building the evaluator fails with this in the error
//
// Times are RFC 3339 with optional seconds: 2026-03-01T06:30Z,
// 2026-03-29T03:00+02:00. Durations are Go durations with an optional
// leading day count: 90m, 6h30m, 1d12h. root=- expects no root cause (PASS).
// duration= becomes the event's "duration_s" metadata.
//
// Each expectation is checked against a full pass (EvaluateAll) on a new
// Evaluator. Every evaluation point also runs an incremental pass
// (Reevaluate with the assets changed since the previous point) on an
// Evaluator that lives for the whole case, and each result it returns must
// equal the full pass's: the scripts double as the incremental evaluator's
// equivalence tests.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

func TestScripts(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/*.txt scripts")
	}
	total := 0
	for _, f := range files {
		cases, err := parseScript(f)
		if err != nil {
			t.Fatal(err)
		}
		total += len(cases)
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					c.run(t)
				})
			}
		})
	}
	t.Logf("%d script cases in %d files", total, len(files))
}

type scriptLine struct {
	pos  string // file:line
	verb string
	args []string
}

type scriptCase struct {
	name  string
	pos   string
	lines []scriptLine
}

func parseScript(path string) ([]*scriptCase, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read script: %w", err)
	}
	var cases []*scriptCase
	for n, raw := range strings.Split(string(data), "\n") {
		line := strings.TrimSpace(raw)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		pos := fmt.Sprintf("%s:%d", filepath.Base(path), n+1)
		toks, err := tokenize(line)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", pos, err)
		}
		if toks[0] == "case" {
			cases = append(cases, &scriptCase{name: strings.Join(toks[1:], " "), pos: pos})
			continue
		}
		if len(cases) == 0 {
			return nil, fmt.Errorf("%s: %q before the first case", pos, toks[0])
		}
		c := cases[len(cases)-1]
		c.lines = append(c.lines, scriptLine{pos: pos, verb: toks[0], args: toks[1:]})
	}
	return cases, nil
}

// tokenize splits on spaces outside double quotes and drops the quotes:
// cron="0 7 * * *" is one token, cron=0 7 * * *.
func tokenize(line string) ([]string, error) {
	var toks []string
	var cur strings.Builder
	inQuote, have := false, false
	for _, r := range line {
		switch {
		case r == '"':
			inQuote, have = !inQuote, true
		case r == ' ' || r == '\t':
			if inQuote {
				cur.WriteRune(r)
			} else if have {
				toks = append(toks, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	if inQuote {
		return nil, fmt.Errorf("unterminated quote in %q", line)
	}
	if have {
		toks = append(toks, cur.String())
	}
	return toks, nil
}

// kv splits "k=v" arguments, rejecting any key not in allowed.
func kv(args []string, allowed ...string) (map[string]string, error) {
	out := make(map[string]string)
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return nil, fmt.Errorf("argument %q is not key=value", a)
		}
		found := false
		for _, x := range allowed {
			found = found || x == k
		}
		if !found {
			return nil, fmt.Errorf("unknown argument %q (want one of %s)", k, strings.Join(allowed, ", "))
		}
		out[k] = v
	}
	return out, nil
}

func parseScriptTime(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02T15:04Z07:00", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q: want 2006-01-02T15:04[:05]Z or an offset", s)
}

// parseScriptDuration is time.ParseDuration with an optional leading "<n>d".
func parseScriptDuration(s string) (time.Duration, error) {
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		var n int
		if _, err := fmt.Sscanf(s[:i], "%d", &n); err != nil {
			return 0, fmt.Errorf("duration %q: %w", s, err)
		}
		days, s = time.Duration(n)*24*time.Hour, s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration: %w", err)
	}
	return days + d, nil
}

// scriptGraph is the Graph the scripts build.
type scriptGraph struct {
	keys    []asset.Key
	parents map[asset.Key][]asset.Key
}

func (g *scriptGraph) add(k asset.Key) {
	if _, ok := g.parents[k]; !ok {
		g.parents[k] = nil
		g.keys = append(g.keys, k)
	}
}

func (g *scriptGraph) Keys() []asset.Key               { return g.keys }
func (g *scriptGraph) Parents(k asset.Key) []asset.Key { return g.parents[k] }

// scriptRun is one case's state as its lines are applied.
type scriptRun struct {
	t        *testing.T
	graph    *scriptGraph
	policies map[asset.Key]asset.FreshnessPolicy
	tracker  *Tracker
	now      time.Time
	full     map[asset.Key]Result // nil: stale, recompute before the next expect
	inc      *Evaluator           // nil: graph or policies changed, rebuild
	changed  map[asset.Key]bool
	eventSeq int
	log      eventLog // every event: the store that answers misses
}

func (c *scriptCase) run(t *testing.T) {
	r := &scriptRun{
		t:        t,
		graph:    &scriptGraph{parents: make(map[asset.Key][]asset.Key)},
		policies: make(map[asset.Key]asset.FreshnessPolicy),
		tracker:  NewTracker(),
		changed:  make(map[asset.Key]bool),
	}
	expects := 0
	for _, l := range c.lines {
		if err := r.apply(l); err != nil {
			t.Fatalf("%s: %s: %v", l.pos, l.verb, err)
		}
		if l.verb == "expect" || l.verb == "expect-error" {
			expects++
		}
	}
	if expects == 0 {
		t.Fatalf("%s: case %q has no expectations", c.pos, c.name)
	}
}

func (r *scriptRun) apply(l scriptLine) error {
	switch l.verb {
	case "graph":
		return r.applyGraph(l.args)
	case "policy":
		return r.applyPolicy(l.args)
	case "materializable":
		for _, a := range l.args {
			k, err := asset.ParseKey(a)
			if err != nil {
				return err
			}
			if r.tracker.SetMaterializable(k, true) {
				r.touch(k)
			}
		}
		return nil
	case "mat", "fail", "obs", "start", "end":
		return r.applyEvent(l.verb, l.args)
	case "partitions":
		return r.applyPartitions(l.args)
	case "seen":
		if len(l.args) != 2 || !strings.HasPrefix(l.args[1], "at=") {
			return fmt.Errorf("want: seen <key> at=<time>")
		}
		k, err := asset.ParseKey(l.args[0])
		if err != nil {
			return err
		}
		at, err := parseScriptTime(strings.TrimPrefix(l.args[1], "at="))
		if err != nil {
			return err
		}
		if r.tracker.Seen(k, at) {
			r.touch(k)
		}
		return nil
	case "now":
		if len(l.args) != 1 {
			return fmt.Errorf("want: now <time>")
		}
		t, err := parseScriptTime(l.args[0])
		if err != nil {
			return err
		}
		r.now, r.full = t, nil
		return nil
	case "expect":
		return r.expect(l)
	case "expect-error":
		if len(l.args) != 1 {
			return fmt.Errorf(`want: expect-error "<substring>"`)
		}
		_, err := NewEvaluator(r.graph, r.policies)
		if err == nil || !strings.Contains(err.Error(), l.args[0]) {
			return fmt.Errorf("NewEvaluator error = %v, want one containing %q", err, l.args[0])
		}
		return nil
	}
	return fmt.Errorf("unknown directive")
}

func (r *scriptRun) touch(k asset.Key) {
	r.changed[k] = true
	r.full = nil
}

func (r *scriptRun) applyGraph(args []string) error {
	var prev []asset.Key
	want := false // an arrow was seen; a segment must follow
	for _, a := range args {
		if a == "->" {
			if prev == nil || want {
				return fmt.Errorf("misplaced ->")
			}
			want = true
			continue
		}
		var seg []asset.Key
		for _, name := range strings.Split(a, ",") {
			k, err := asset.ParseKey(name)
			if err != nil {
				return err
			}
			r.graph.add(k)
			seg = append(seg, k)
		}
		if want {
			for _, child := range seg {
				r.graph.parents[child] = append(r.graph.parents[child], prev...)
			}
		} else if prev != nil {
			return fmt.Errorf("missing -> before %q", a)
		}
		prev, want = seg, false
	}
	if want {
		return fmt.Errorf("dangling ->")
	}
	r.inc, r.full = nil, nil
	return nil
}

func (r *scriptRun) applyPolicy(args []string) error {
	if len(args) < 2 {
		return fmt.Errorf("want: policy <key> max_lag=... | cron=... tz=... max_lag=...")
	}
	k, err := asset.ParseKey(args[0])
	if err != nil {
		return err
	}
	m, err := kv(args[1:], "max_lag", "warn_after", "cron", "tz")
	if err != nil {
		return err
	}
	var p asset.FreshnessPolicy
	if v, ok := m["max_lag"]; ok {
		if p.MaxLag, err = parseScriptDuration(v); err != nil {
			return err
		}
	}
	if v, ok := m["warn_after"]; ok {
		if p.WarnAfter, err = parseScriptDuration(v); err != nil {
			return err
		}
	}
	p.Cron, p.Timezone = m["cron"], m["tz"]
	r.policies[k] = p
	r.inc, r.full = nil, nil
	return nil
}

func (r *scriptRun) applyEvent(verb string, args []string) error {
	if len(args) < 1 {
		return fmt.Errorf("want: %s <key> at=<time> ...", verb)
	}
	k, err := asset.ParseKey(args[0])
	if err != nil {
		return err
	}
	allowed := map[string][]string{
		"mat":   {"at", "data_time", "upstream", "duration", "id", "partition", "run"},
		"fail":  {"at", "id", "run"},
		"obs":   {"at", "data_time", "id"},
		"start": {"at", "id", "run"},
		"end":   {"at", "id", "run", "status"},
	}[verb]
	m, err := kv(args[1:], allowed...)
	if err != nil {
		return err
	}
	r.eventSeq++
	e := asset.Event{ID: fmt.Sprintf("e%d", r.eventSeq), Asset: k}
	e.Kind = map[string]asset.Kind{"mat": asset.KindMaterialization, "fail": asset.KindMaterializationFailed, "obs": asset.KindObservation,
		"start": asset.KindRunStarted, "end": asset.KindRunSucceeded}[verb]
	if st, ok := m["status"]; ok {
		e.Kind = asset.Kind("run_" + st)
		if e.Kind != asset.KindRunSucceeded && e.Kind != asset.KindRunFailed && e.Kind != asset.KindRunCanceled {
			return fmt.Errorf("status %q: want succeeded, failed or canceled", st)
		}
	}
	e.RunID, e.Partition = m["run"], m["partition"]
	if (verb == "start" || verb == "end") && e.RunID == "" {
		return fmt.Errorf("%s needs run=<run id>", verb)
	}
	if e.Time, err = parseScriptTime(m["at"]); err != nil {
		return fmt.Errorf("at: %w", err)
	}
	if v, ok := m["data_time"]; ok {
		dt, err := parseScriptTime(v)
		if err != nil {
			return fmt.Errorf("data_time: %w", err)
		}
		e.DataTime = &dt
	}
	if v, ok := m["upstream"]; ok {
		for _, name := range strings.Split(v, ",") {
			u, err := asset.ParseKey(name)
			if err != nil {
				return fmt.Errorf("upstream: %w", err)
			}
			e.Upstream = append(e.Upstream, u)
		}
	}
	if v, ok := m["duration"]; ok {
		d, err := parseScriptDuration(v)
		if err != nil {
			return err
		}
		e.Metadata = asset.Metadata{DurationKey: asset.Float(d.Seconds())}
	}
	if v, ok := m["id"]; ok {
		e.ID = v
	}
	r.log.add(e)
	for _, c := range r.tracker.ApplyTo(e, nil) {
		r.touch(c)
	}
	return nil
}

func (r *scriptRun) applyPartitions(args []string) error {
	if len(args) < 2 {
		return fmt.Errorf("want: partitions <key> daily|hourly [start=<time>] | static values=a,b")
	}
	k, err := asset.ParseKey(args[0])
	if err != nil {
		return err
	}
	m, err := kv(args[2:], "start", "values")
	if err != nil {
		return err
	}
	p := &asset.PartitionsSpec{Type: args[1]}
	if v, ok := m["start"]; ok {
		if p.Start, err = parseScriptTime(v); err != nil {
			return err
		}
	}
	if v, ok := m["values"]; ok {
		p.Values = strings.Split(v, ",")
	}
	if r.tracker.SetPartitions(k, p) {
		r.touch(k)
	}
	return nil
}

// settleRounds bounds the fetch rounds of one evaluation in the scripts.
const settleRounds = 32

// evaluate runs the full pass and the incremental one and checks they agree.
func (r *scriptRun) evaluate() error {
	if r.now.IsZero() {
		return fmt.Errorf("expect before now")
	}
	ev, err := NewEvaluator(r.graph, r.policies)
	if err != nil {
		return fmt.Errorf("build evaluator: %w", err)
	}
	r.full = make(map[asset.Key]Result)
	results, touched, open, err := ev.Settle(context.Background(), ev.EvaluateAll(nil, r.now, r.tracker), r.now, r.tracker, &r.log, settleRounds)
	if err != nil || len(open) > 0 {
		return fmt.Errorf("misses left open: %v (%v)", open, err)
	}
	for _, res := range results {
		r.full[res.Key] = res
	}
	for _, k := range touched {
		r.changed[k] = true
	}
	changed := make([]asset.Key, 0, len(r.changed))
	for k := range r.changed {
		changed = append(changed, k)
	}
	if r.inc == nil {
		if r.inc, err = NewEvaluator(r.graph, r.policies); err != nil {
			return fmt.Errorf("build evaluator: %w", err)
		}
		changed = r.graph.keys // a new evaluator has nothing memoised: every asset is new to it
	}
	incResults, _, open, err := r.inc.Settle(context.Background(), r.inc.Reevaluate(nil, r.now, r.tracker, changed), r.now, r.tracker, &r.log, settleRounds)
	if err != nil || len(open) > 0 {
		return fmt.Errorf("incremental: misses left open: %v (%v)", open, err)
	}
	for _, res := range incResults {
		if want := r.full[res.Key]; !reflect.DeepEqual(res, want) {
			return fmt.Errorf("incremental result differs from the full pass:\n inc  %+v\n full %+v", res, want)
		}
	}
	clear(r.changed)
	return nil
}

func (r *scriptRun) expect(l scriptLine) error {
	if len(l.args) < 2 {
		return fmt.Errorf("want: expect <key> <STATE> [k=v...]")
	}
	if r.full == nil {
		if err := r.evaluate(); err != nil {
			return err
		}
	}
	k := asset.Key(l.args[0])
	got, ok := r.full[k]
	if !ok {
		return fmt.Errorf("no result for %s (has it a policy?)", k)
	}
	state, err := ParseState(l.args[1])
	if err != nil {
		return err
	}
	m, err := kv(l.args[2:], "lag", "root", "deadline", "predicted", "data_time", "reason", "reason!")
	if err != nil {
		return err
	}
	r.t.Logf("%s: %s %s: %s", l.pos, k, got.State, got.Reason) // shown with -v, and on failure
	var problems []string
	bad := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	if got.State != state {
		bad("state %s, want %s", got.State, state)
	}
	if v, ok := m["lag"]; ok {
		if d, err := parseScriptDuration(v); err != nil {
			return err
		} else if got.Lag != d {
			bad("lag %s, want %s", fmtDuration(got.Lag), fmtDuration(d))
		}
	}
	if v, ok := m["root"]; ok {
		if v == "-" {
			v = ""
		}
		if got.RootCause != asset.Key(v) {
			bad("root %q, want %q", got.RootCause, v)
		}
	}
	for name, field := range map[string]time.Time{"deadline": got.Deadline, "data_time": got.DataTime} {
		if v, ok := m[name]; ok {
			if want, err := parseScriptTime(v); err != nil {
				return err
			} else if !field.Equal(want) {
				bad("%s %s, want %s", name, field.UTC().Format(time.RFC3339), want.UTC().Format(time.RFC3339))
			}
		}
	}
	if v, ok := m["predicted"]; ok {
		want, err := parseScriptTime(v)
		if err != nil {
			return err
		}
		if got.PredictedCompletion == nil || !got.PredictedCompletion.Equal(want) {
			bad("predicted %v, want %s", got.PredictedCompletion, want.UTC().Format(time.RFC3339))
		}
	}
	if v, ok := m["reason"]; ok && !strings.Contains(got.Reason, v) {
		bad("reason lacks %q", v)
	}
	if v, ok := m["reason!"]; ok && strings.Contains(got.Reason, v) {
		bad("reason has %q", v)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s: %s\n    reason: %s", k, strings.Join(problems, "; "), got.Reason)
	}
	return nil
}
