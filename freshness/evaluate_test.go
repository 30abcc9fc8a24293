package freshness

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// The pure function on hand-written inputs: no tracker, no graph, a fixed clock.
func TestEvaluatePure(t *testing.T) {
	t.Parallel()
	now := utc("2026-03-01T06:00:00Z")
	hoursAgo := func(h float64) time.Time { return now.Add(-time.Duration(h * float64(time.Hour))) }
	maxLag2h := MustCompilePolicy(asset.FreshnessPolicy{MaxLag: 2 * time.Hour})
	grace2d := MustCompilePolicy(asset.FreshnessPolicy{MaxLag: 2 * time.Hour, Grace: 48 * time.Hour})
	daily := MustCompilePolicy(asset.FreshnessPolicy{Cron: "0 7 * * *", Timezone: "Europe/Paris", MaxLag: 2 * time.Hour})
	link := func(k asset.Key, h float64, materializable bool, est time.Duration) Status {
		return Status{Key: k, HasData: true, DataTime: hoursAgo(h), LastSuccess: hoursAgo(h), Materializable: materializable, RunEstimate: est}
	}
	tests := []struct {
		name      string
		policy    *Policy
		self      Status
		up        Chain
		state     State
		root      asset.Key
		predicted string
		reason    string
	}{
		{
			name:   "no data",
			policy: maxLag2h, self: Status{Key: "m"},
			state: Unknown, root: "m", reason: "never materialized",
		},
		{
			name:   "unknown past max_lag: FAIL by default",
			policy: maxLag2h, self: Status{Key: "m", Since: hoursAgo(3)},
			state: Fail, root: "m", reason: "never materialized; over the grace period: unknown since",
		},
		{
			name:   "unknown past max_lag, within its grace",
			policy: grace2d, self: Status{Key: "m", Since: hoursAgo(30)},
			state: Unknown, root: "m", reason: "never materialized",
		},
		{
			name:   "unknown past its grace",
			policy: grace2d, self: Status{Key: "m", Since: hoursAgo(49)},
			state: Fail, root: "m", reason: "over the grace period",
		},
		{
			name:   "grace does not change a known data time",
			policy: grace2d, self: link("m", 3, false, 0),
			state: Fail, root: "m", reason: "data is 3h old, over max_lag 2h",
		},
		{
			name:   "nil chain",
			policy: maxLag2h, self: link("m", 3, false, 0),
			state: Fail, root: "m", reason: "data is 3h old, over max_lag 2h",
		},
		{
			name:   "walks to the last stale link",
			policy: maxLag2h, self: link("m", 5, false, 0),
			up:    Statuses{link("s", 5, false, 0), link("r", 5, false, 0), link("src", 1, false, 0)},
			state: Fail, root: "r", reason: "root cause r (data is 5h old)",
		},
		{
			name:   "a link without data ends the chain",
			policy: maxLag2h, self: link("m", 5, false, 0),
			up:    Statuses{link("s", 5, false, 0), {Key: "x"}, link("r", 5, false, 0)},
			state: Fail, root: "s",
		},
		{
			name:   "at risk sums the materializable stale links",
			policy: maxLag2h, self: link("m", 1.75, true, 10*time.Minute),
			up:    Statuses{link("s", 1.75, true, 15*time.Minute), link("ext", 1.75, false, time.Hour), link("r", 0.5, true, time.Hour)},
			state: AtRisk, root: "ext", predicted: "2026-03-01T06:25:00Z", reason: "(with 1 stale upstream)",
		},
		{
			name:   "cron: the latest tick is covered",
			policy: daily, self: link("m", 1, false, 0),
			state: Pass, root: "", reason: "good until the 2026-03-02 07:00 CET deadline",
		},
		{
			name:   "cron: the latest tick is missed",
			policy: daily, self: link("m", 27, false, 0),
			state: Fail, root: "m", reason: "missed the 2026-03-01 07:00 CET deadline",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Evaluate(tc.policy, now, tc.self, tc.up)
			if got.State != tc.state || got.RootCause != tc.root || !strings.Contains(got.Reason, tc.reason) {
				t.Errorf("got %s root %q reason %q; want %s root %q reason containing %q", got.State, got.RootCause, got.Reason, tc.state, tc.root, tc.reason)
			}
			if tc.predicted != "" && (got.PredictedCompletion == nil || !got.PredictedCompletion.Equal(utc(tc.predicted))) {
				t.Errorf("predicted %v, want %s", got.PredictedCompletion, tc.predicted)
			}
			if !got.EvaluatedAt.Equal(now) || got.Key != tc.self.Key {
				t.Errorf("key %q evaluated at %v", got.Key, got.EvaluatedAt)
			}
			// Pure: the same inputs give the same result.
			if again := Evaluate(tc.policy, now, tc.self, tc.up); again.Reason != got.Reason || again.State != got.State {
				t.Errorf("second evaluation differs: %+v", again)
			}
		})
	}
}

func TestStateOrderAndText(t *testing.T) {
	t.Parallel()
	order := []State{Pass, Warn, AtRisk, Unknown, Fail}
	for i := 1; i < len(order); i++ {
		if order[i-1].Severity() >= order[i].Severity() {
			t.Errorf("%s should rank below %s", order[i-1], order[i])
		}
	}
	for _, s := range order {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var back State
		if err := json.Unmarshal(b, &back); err != nil || back != s {
			t.Errorf("%s -> %s -> %s (%v)", s, b, back, err)
		}
	}
	if _, err := ParseState("STALE"); err == nil {
		t.Error("ParseState accepted STALE")
	}
	if _, err := json.Marshal(State(9)); err == nil {
		t.Error("marshalled an out-of-range state")
	}
}

func TestResultJSON(t *testing.T) {
	t.Parallel()
	pred := utc("2026-03-01T06:15:00Z")
	r := Result{
		Key: "marts/x", State: AtRisk, Lag: 105 * time.Minute, DataTime: utc("2026-03-01T04:00:00Z"),
		Deadline: utc("2026-03-01T06:00:00Z"), Reason: "why", RootCause: "raw/y",
		PredictedCompletion: &pred, EvaluatedAt: utc("2026-03-01T05:45:00Z"),
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"state":"AT_RISK"`, `"lag_seconds":6300`, `"root_cause":"raw/y"`, `"predicted_completion":"2026-03-01T06:15:00Z"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
	var back Result
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Lag != r.Lag || back.State != r.State || !back.PredictedCompletion.Equal(pred) || back.RootCause != r.RootCause {
		t.Errorf("round trip: %+v", back)
	}
	b, _ = json.Marshal(Result{Key: "k", State: Unknown, Reason: "never materialized"})
	if strings.Contains(string(b), "data_time") || strings.Contains(string(b), "predicted") {
		t.Errorf("zero fields should be omitted: %s", b)
	}
}

func TestFormatDuration(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		0: "0s", 400 * time.Millisecond: "0s", 45 * time.Second: "45s", 90 * time.Minute: "1h30m",
		51 * time.Hour: "2d3h", 24*time.Hour + 5*time.Second: "1d5s", -time.Minute: "-1m",
	} {
		if got := fmtDuration(d); got != want {
			t.Errorf("fmtDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
