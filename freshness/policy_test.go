package freshness

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// TestCronPolicyRule: the one rule for cron policies that config, the CLI
// and the API share through CompilePolicy.
func TestCronPolicyRule(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		p       asset.FreshnessPolicy
		wantErr string // empty: valid
	}{
		{"max_lag omitted", asset.FreshnessPolicy{Cron: "0 7 * * *"}, ""},
		{"max_lag at the minimum", asset.FreshnessPolicy{Cron: "0 7 * * *", MaxLag: time.Minute}, ""},
		{"max_lag below a minute", asset.FreshnessPolicy{Cron: "0 7 * * *", MaxLag: 30 * time.Second}, "too small for a cron deadline"},
		{"max_lag negative", asset.FreshnessPolicy{Cron: "0 7 * * *", MaxLag: -time.Hour}, "negative"},
		{"warn_after with cron", asset.FreshnessPolicy{Cron: "0 7 * * *", WarnAfter: time.Hour}, "warn_after applies to max_lag"},
		{"no cron, no max_lag", asset.FreshnessPolicy{}, "max_lag is required"},
		{"timezone without cron", asset.FreshnessPolicy{MaxLag: time.Hour, Timezone: "UTC"}, "cron is not"},
		// Every policy duration is at least a second (0 leaves warn_after and grace unset).
		{"max_lag 1ns", asset.FreshnessPolicy{MaxLag: time.Nanosecond}, "max_lag 1ns is less than 1s"},
		{"max_lag 999ms", asset.FreshnessPolicy{MaxLag: 999 * time.Millisecond}, "max_lag 999ms is less than 1s"},
		{"max_lag 1s", asset.FreshnessPolicy{MaxLag: time.Second}, ""},
		{"warn_after 1ns", asset.FreshnessPolicy{MaxLag: time.Hour, WarnAfter: time.Nanosecond}, "warn_after 1ns"},
		{"grace 1ms", asset.FreshnessPolicy{MaxLag: time.Hour, Grace: time.Millisecond}, "grace 1ms"},
		{"cron grace 1us", asset.FreshnessPolicy{Cron: "0 7 * * *", Grace: time.Microsecond}, "grace 1µs"},
		{"grace 1s", asset.FreshnessPolicy{MaxLag: time.Hour, Grace: time.Second}, ""},
	} {
		_, err := CompilePolicy(c.p)
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("%s: %v, want valid", c.name, err)
		case c.wantErr != "" && (err == nil || !errors.Is(err, ErrInvalidPolicy) || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%s: err = %v, want ErrInvalidPolicy saying %q", c.name, err, c.wantErr)
		}
	}
}

// TestDefaultCronLag: without max_lag, the lag a tick allows is the
// interval back to the previous tick, which varies with the schedule.
func TestDefaultCronLag(t *testing.T) {
	t.Parallel()
	p := MustCompilePolicy(asset.FreshnessPolicy{Cron: "0 9 * * 1-5", Timezone: "America/New_York"})
	tc := &tickCache{}
	monday := time.Date(2026, 3, 16, 13, 0, 0, 0, time.UTC)  // 09:00 EDT
	tuesday := time.Date(2026, 3, 17, 13, 0, 0, 0, time.UTC) // 09:00 EDT
	if got := p.lagAt(tc, monday); got != 72*time.Hour {
		t.Errorf("Monday's lag = %s, want 72h (back to Friday 09:00)", got)
	}
	if got := p.lagAt(tc, tuesday); got != 24*time.Hour {
		t.Errorf("Tuesday's lag = %s, want 24h", got)
	}
	fixed := MustCompilePolicy(asset.FreshnessPolicy{Cron: "0 9 * * 1-5", MaxLag: 2 * time.Hour})
	if got := fixed.lagAt(tc, monday); got != 2*time.Hour {
		t.Errorf("a written max_lag = %s, want it as written", got)
	}
}

// TestResultJSONInUTC: a cron deadline computed in Europe/Paris and the
// other times are all written in UTC.
func TestResultJSONInUTC(t *testing.T) {
	t.Parallel()
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 2, 7, 0, 0, 0, paris)
	r := Result{Key: "x", State: AtRisk, DataTime: at.Add(-time.Hour), Deadline: at, PredictedCompletion: &at, EvaluatedAt: at}
	b, err := r.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if s := string(b); strings.Contains(s, "+01:00") || strings.Count(s, "Z\"") != 4 {
		t.Errorf("times not all in UTC: %s", s)
	}
}
