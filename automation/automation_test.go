package automation_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/automation"
	"github.com/freshet-dev/freshet/freshness"
	"github.com/freshet-dev/freshet/lineage"
	"github.com/freshet-dev/freshet/runs"
	"github.com/freshet-dev/freshet/store"
)

// runner stands in for the runs service: runs end when the test says,
// with the outcome it says.
type runner struct {
	mu       sync.Mutex
	commands map[asset.Key]bool
	launched [][]string
	inflight map[asset.Key]string
	outcome  map[string]string // run id -> SUCCESS or FAILURE once ended
}

func (r *runner) Launch(_ context.Context, req runs.LaunchRequest) (store.RunRecord, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := fmt.Sprintf("run-%d", len(r.launched)+1)
	r.launched = append(r.launched, req.Selection)
	for _, k := range req.Selection {
		r.inflight[asset.Key(k)] = id
	}
	return store.RunRecord{ID: id, Trigger: req.Trigger}, nil
}

func (r *runner) InFlight(k asset.Key) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id, ok := r.inflight[k]
	return id, ok
}

func (r *runner) Get(_ context.Context, id string) (store.RunRecord, []store.StepRecord, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, ok := r.outcome[id]
	if !ok {
		return store.RunRecord{ID: id, Status: "STARTED"}, nil, nil
	}
	return store.RunRecord{ID: id, Status: st}, []store.StepRecord{{RunID: id, Asset: "mart", Status: st}}, nil
}

func (r *runner) Materializable(k asset.Key) bool { return r.commands[k] }

// end finishes every run in flight with status.
func (r *runner) end(status string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range r.inflight {
		r.outcome[id] = status
	}
	r.inflight = map[asset.Key]string{}
}

func (r *runner) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.launched)
}

// graph: src -> stg -> mart.
func graph() *lineage.Graph {
	ix := lineage.NewIndex()
	ix.Reset([]asset.Key{"src", "stg", "mart"}, []asset.Edge{{Upstream: "src", Downstream: "stg"}, {Upstream: "stg", Downstream: "mart"}}, nil)
	return ix.Current()
}

func failing(root asset.Key) *freshness.Snapshot {
	return &freshness.Snapshot{Results: map[asset.Key]freshness.Result{
		"mart": {Key: "mart", State: freshness.Fail, RootCause: root, Reason: "data is 3h old, over max_lag 1h"},
	}}
}

func TestCooldownBackoffAndReset(t *testing.T) {
	t.Parallel()
	r := &runner{commands: map[asset.Key]bool{"stg": true, "mart": true}, inflight: map[asset.Key]string{}, outcome: map[string]string{}}
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	a := automation.New(r, automation.Options{Enabled: true, Cooldown: 10 * time.Minute, MaxBackoff: 30 * time.Minute,
		Now: func() time.Time { return now }})
	ctx := context.Background()
	step := func(d time.Duration) {
		now = now.Add(d)
		a.Evaluate(ctx, failing("stg"), graph())
	}
	step(0)
	if r.count() != 1 || strings.Join(r.launched[0], " ") != "stg mart" {
		t.Fatalf("launched %v, want one run of the chain from the root cause", r.launched)
	}
	step(time.Minute) // in flight: waits
	r.end("FAILURE")
	step(8 * time.Minute) // 9m after the request: cooling down
	if r.count() != 1 {
		t.Fatalf("launched during the cooldown: %v", r.launched)
	}
	step(2 * time.Minute) // 11m: one failure doubles the cooldown to 20m
	if r.count() != 1 {
		t.Fatalf("launched before the doubled cooldown: %v", r.launched)
	}
	ds := a.Latest("mart")
	if last := ds[len(ds)-1]; last.Action != automation.Waiting || !strings.Contains(last.Reason, "backing off after 1 failed") {
		t.Errorf("latest decision = %+v", last)
	}
	step(10 * time.Minute) // 21m
	if r.count() != 2 {
		t.Fatalf("not launched after the doubled cooldown: %d runs", r.count())
	}
	r.end("FAILURE")
	step(25 * time.Minute) // two failures: 40m, capped at 30m
	if r.count() != 2 {
		t.Fatalf("launched before the capped backoff")
	}
	step(6 * time.Minute) // 31m after the second request
	if r.count() != 3 {
		t.Fatalf("not launched after the capped backoff: %d runs", r.count())
	}
	r.end("SUCCESS")
	step(11 * time.Minute) // a success resets the cooldown to 10m
	if r.count() != 4 {
		t.Fatalf("the cooldown was not reset by a success: %d runs", r.count())
	}
}

func TestDeclinesAndWaits(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		commands []asset.Key
		busy     asset.Key
		allowed  bool
		enabled  bool
		action   string // "" = no decision
		reason   string
	}{
		{"root without a command", []asset.Key{"mart"}, "", true, true, automation.Declined, "root cause src has no materialize command here"},
		{"excluded", []asset.Key{"src", "stg", "mart"}, "", false, true, automation.Declined, "off for this asset"},
		{"upstream in flight", []asset.Key{"stg", "mart"}, "src", true, true, automation.Waiting, "upstream src is being rebuilt by run manual-1"},
		{"off", []asset.Key{"src", "stg", "mart"}, "", true, false, "", ""},
		{"asset without a command", []asset.Key{"src"}, "", true, true, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := &runner{commands: map[asset.Key]bool{}, inflight: map[asset.Key]string{}, outcome: map[string]string{}}
			for _, k := range tc.commands {
				r.commands[k] = true
			}
			if tc.busy != "" {
				r.inflight[tc.busy] = "manual-1"
			}
			a := automation.New(r, automation.Options{Enabled: tc.enabled, Allowed: func(asset.Key) bool { return tc.allowed }})
			root := asset.Key("src")
			if tc.name == "upstream in flight" {
				root = "stg"
			}
			a.Evaluate(context.Background(), failing(root), graph())
			ds := a.Latest("mart")
			switch {
			case tc.action == "" && len(ds) != 0:
				t.Errorf("decided %+v, want nothing", ds)
			case tc.action != "" && (len(ds) != 1 || ds[0].Action != tc.action || !strings.Contains(ds[0].Reason, tc.reason)):
				t.Errorf("decisions %+v, want %s: %s", ds, tc.action, tc.reason)
			}
			if n := r.count(); n != 0 {
				t.Errorf("launched %v", r.launched)
			}
		})
	}
}
