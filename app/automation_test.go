package app_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/app"
	"github.com/freshet-dev/freshet/config"
	"github.com/freshet-dev/freshet/freshness/monitor"
)

type runBody struct {
	ID        string   `json:"id"`
	Status    string   `json:"status"`
	Trigger   string   `json:"trigger"`
	Selection []string `json:"selection"`
	Steps     []struct {
		Asset  string `json:"asset"`
		Status string `json:"status"`
	} `json:"steps"`
}

type decisionsBody struct {
	Enabled   bool `json:"enabled"`
	Decisions []struct {
		Asset     string   `json:"asset"`
		Action    string   `json:"action"`
		Reason    string   `json:"reason"`
		RunID     string   `json:"run_id"`
		Selection []string `json:"selection"`
	} `json:"decisions"`
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

func postEvents(t *testing.T, base, body string) {
	t.Helper()
	resp, err := http.Post(base+"/api/v1/events", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST events = %d", resp.StatusCode)
	}
}

// automatedRuns lists the runs the automation launched.
func automatedRuns(t *testing.T, base string) []runBody {
	t.Helper()
	var page struct {
		Runs []runBody `json:"runs"`
	}
	getJSON(t, base+"/api/v1/runs?trigger=automation", &page)
	return page.Runs
}

// TestAutomationRebuildsStaleChain is the executor issue's end-to-end
// case: a mart goes stale because its staging table is old; the
// automation launches one run of staging then mart (root cause first),
// both materialize, the mart returns to PASS, and the decision log says
// why. Later passes launch nothing more.
func TestAutomationRebuildsStaleChain(t *testing.T) {
	t.Parallel()
	defs, err := config.Parse("auto.yaml", []byte(`
automation: {enabled: true, cooldown: 1h}
assets:
  - key: staging/a
    materialize: {argv: [sh, -c, 'echo building $FRESHET_ASSET']}
  - key: marts/b
    deps: [staging/a]
    freshness: {max_lag: 1h}
    materialize: {argv: [sh, -c, 'echo building $FRESHET_ASSET']}
`))
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, app.Config{DataDir: t.TempDir(), Definitions: defs, Logger: quiet,
		Freshness: monitor.Options{Interval: 100 * time.Millisecond, Coalesce: 10 * time.Millisecond}})
	at := func(ago time.Duration) string { return time.Now().UTC().Add(-ago).Format(time.RFC3339) }
	postEvents(t, srv.base, fmt.Sprintf(`[{"kind":"materialization","asset":"staging/a","time":%q},
{"kind":"materialization","asset":"marts/b","time":%q}]`, at(3*time.Hour), at(2*time.Hour)))

	stateOf(t, srv.base, "marts/b", "PASS")
	var run runBody
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		rs := automatedRuns(t, srv.base)
		if len(rs) == 1 && rs[0].Status == "SUCCESS" {
			getJSON(t, srv.base+"/api/v1/runs/"+rs[0].ID, &run)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("automated runs = %+v, want one SUCCESS", rs)
		}
	}
	if got := fmt.Sprint(run.Selection); got != "[staging/a marts/b]" {
		t.Errorf("selection = %s, want the root cause first", got)
	}
	if len(run.Steps) != 2 || run.Steps[0].Asset != "staging/a" || run.Steps[1].Asset != "marts/b" ||
		run.Steps[0].Status != "SUCCESS" || run.Steps[1].Status != "SUCCESS" {
		t.Errorf("steps = %+v", run.Steps)
	}
	var logs struct {
		Lines []struct{ Text string } `json:"lines"`
	}
	getJSON(t, srv.base+"/api/v1/runs/"+run.ID+"/logs", &logs)
	if got := fmt.Sprint(logs.Lines); !strings.Contains(got, "building staging/a") || !strings.Contains(got, "building marts/b") {
		t.Errorf("logs = %s", got)
	}

	var ds decisionsBody
	getJSON(t, srv.base+"/api/v1/automation?asset=marts%2Fb", &ds)
	if !ds.Enabled || len(ds.Decisions) == 0 {
		t.Fatalf("decisions = %+v", ds)
	}
	first := ds.Decisions[0]
	if first.Action != "requested" || first.RunID != run.ID || !strings.Contains(first.Reason, "FAIL") ||
		!strings.Contains(first.Reason, "rebuilding staging/a -> marts/b") {
		t.Errorf("first decision = %+v", first)
	}
	// More passes (100ms apart) launch nothing more: the asset is PASS.
	time.Sleep(500 * time.Millisecond)
	if rs := automatedRuns(t, srv.base); len(rs) != 1 {
		t.Errorf("%d automated runs, want exactly 1: %+v", len(rs), rs)
	}
	// The decision is in the asset's event log too.
	var evs struct {
		Events []struct {
			Kind string `json:"kind"`
		} `json:"events"`
	}
	getJSON(t, srv.base+"/api/v1/assets/marts%2Fb/events?kind=automation_decision", &evs)
	if len(evs.Events) == 0 {
		t.Error("no automation_decision event for marts/b")
	}
}

// TestAutomationDeclinesWhatItCannotFix: a mart over a stale source that
// nobody here can rebuild is not rebuilt, and the decision says why; with
// automation off nothing is decided at all.
func TestAutomationDeclinesWhatItCannotFix(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, enabled string
		want          string // "" = no decision
	}{
		{"on", "true", "root cause raw/src has no materialize command here"},
		{"off", "false", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			defs, err := config.Parse("auto.yaml", []byte(`
automation: {enabled: `+tc.enabled+`}
assets:
  - key: raw/src
  - key: marts/c
    deps: [raw/src]
    freshness: {max_lag: 1h}
    materialize: {argv: ['true']}
`))
			if err != nil {
				t.Fatal(err)
			}
			srv := serve(t, app.Config{DataDir: t.TempDir(), Definitions: defs, Logger: quiet,
				Freshness: monitor.Options{Interval: 100 * time.Millisecond, Coalesce: 10 * time.Millisecond}})
			at := func(ago time.Duration) string { return time.Now().UTC().Add(-ago).Format(time.RFC3339) }
			postEvents(t, srv.base, fmt.Sprintf(`[{"kind":"materialization","asset":"raw/src","time":%q},
{"kind":"materialization","asset":"marts/c","time":%q}]`, at(5*time.Hour), at(4*time.Hour)))
			stateOf(t, srv.base, "marts/c", "FAIL")
			time.Sleep(300 * time.Millisecond) // a few more passes
			var ds decisionsBody
			getJSON(t, srv.base+"/api/v1/automation?asset=marts%2Fc", &ds)
			if tc.want == "" {
				if len(ds.Decisions) != 0 || ds.Enabled {
					t.Errorf("automation off decided: %+v", ds)
				}
			} else if len(ds.Decisions) != 1 || ds.Decisions[0].Action != "declined" || !strings.Contains(ds.Decisions[0].Reason, tc.want) {
				t.Errorf("decisions = %+v, want one declined: %s", ds.Decisions, tc.want)
			}
			if rs := automatedRuns(t, srv.base); len(rs) != 0 {
				t.Errorf("runs launched: %+v", rs)
			}
		})
	}
}
