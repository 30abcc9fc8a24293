package freshness

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestScheduleTicksAcrossDST(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, cron, tz string
		at             string
		prev, next     string
	}{
		{"utc daily", "0 7 * * *", "UTC", "2026-03-01T12:00:00Z", "2026-03-01T07:00:00Z", "2026-03-02T07:00:00Z"},
		{"exactly on a tick", "0 7 * * *", "UTC", "2026-03-01T07:00:00Z", "2026-03-01T07:00:00Z", "2026-03-02T07:00:00Z"},
		{"every minute", "* * * * *", "Europe/Paris", "2026-03-01T12:00:30Z", "2026-03-01T12:00:00Z", "2026-03-01T12:01:00Z"},
		{"leap day, years back", "0 0 29 2 *", "UTC", "2027-01-01T00:00:00Z", "2024-02-29T00:00:00Z", "2028-02-29T00:00:00Z"},

		// Paris spring-forward 2026-03-29 01:00Z: 02:00 CET -> 03:00 CEST.
		{"paris spring: skipped tick happens at the jump", "30 2 * * *", "Europe/Paris", "2026-03-29T01:00:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"},
		{"paris spring: before the jump", "30 2 * * *", "Europe/Paris", "2026-03-29T00:59:00Z", "2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z"},
		{"paris spring: ticks in the gap collapse", "*/15 * * * *", "Europe/Paris", "2026-03-29T00:50:00Z", "2026-03-29T00:45:00Z", "2026-03-29T01:00:00Z"},
		{"paris spring: after the collapse", "*/15 * * * *", "Europe/Paris", "2026-03-29T01:00:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:15:00Z"},
		{"paris spring: 07:00 local moves in UTC", "0 7 * * *", "Europe/Paris", "2026-03-29T04:00:00Z", "2026-03-28T06:00:00Z", "2026-03-29T05:00:00Z"},

		// Paris fall-back 2026-10-25 01:00Z: 03:00 CEST -> 02:00 CET.
		{"paris fall: repeated tick once, first occurrence", "30 2 * * *", "Europe/Paris", "2026-10-25T01:45:00Z", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"},
		{"paris fall: next skips the second occurrence", "30 2 * * *", "Europe/Paris", "2026-10-25T00:30:00Z", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"},
		{"paris fall: hourly skips the repeated hour", "0 * * * *", "Europe/Paris", "2026-10-25T01:30:00Z", "2026-10-25T00:00:00Z", "2026-10-25T02:00:00Z"},
		{"paris fall: hourly before the repeat", "0 * * * *", "Europe/Paris", "2026-10-24T23:30:00Z", "2026-10-24T23:00:00Z", "2026-10-25T00:00:00Z"},

		// New York spring-forward 2026-03-08 07:00Z, fall-back 2026-11-01 06:00Z.
		{"new york spring: skipped tick at the jump", "30 2 * * *", "America/New_York", "2026-03-08T07:10:00Z", "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"},
		{"new york fall: first occurrence", "30 1 * * *", "America/New_York", "2026-11-01T06:45:00Z", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"},
		{"new york fall: midnight unaffected", "0 0 * * *", "America/New_York", "2026-11-01T12:00:00Z", "2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := newSchedule(tc.cron, tc.tz)
			if err != nil {
				t.Fatal(err)
			}
			now := utc(tc.at)
			if got := s.prev(now); !got.Equal(utc(tc.prev)) {
				t.Errorf("prev(%s) = %s, want %s", tc.at, got.UTC().Format(time.RFC3339), tc.prev)
			}
			if got := s.next(now); !got.Equal(utc(tc.next)) {
				t.Errorf("next(%s) = %s, want %s", tc.at, got.UTC().Format(time.RFC3339), tc.next)
			}
		})
	}
}

// TestScheduleInvariants checks, at random instants through 2026 (both DST
// changes included), that prev(t) <= t < next(t), that no tick lies between
// prev(t) and t, and that each tick shows the wall-clock minute it was
// written for (or is a DST jump).
func TestScheduleInvariants(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tz := range []string{"Europe/Paris", "America/New_York", "UTC", "Australia/Lord_Howe"} {
		for _, expr := range []string{"30 2 * * *", "0 * * * *", "*/20 1-3 * * *", "0 7 * * 1-5"} {
			s, err := newSchedule(expr, tz)
			if err != nil {
				t.Fatal(err)
			}
			year := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			for range 500 {
				now := year.Add(time.Duration(rng.Int64N(int64(365 * 24 * time.Hour))))
				p, n := s.prev(now), s.next(now)
				if p.After(now) || !n.After(now) {
					t.Fatalf("%s %s at %s: prev %s next %s", expr, tz, now, p, n)
				}
				if np := s.next(p); np.Before(n) && !np.After(now) {
					t.Fatalf("%s %s at %s: a tick %s between prev %s and now", expr, tz, now, np, p)
				}
				if w := p.In(s.loc); w.Minute()%20 != 0 && !(w.Minute() == 30 && expr == "30 2 * * *") {
					if start, _ := w.ZoneBounds(); !start.Equal(p) {
						t.Fatalf("%s %s: tick %s is not on the schedule's minute nor a DST jump", expr, tz, w)
					}
				}
			}
		}
	}
}

func TestCompilePolicy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		p    asset.FreshnessPolicy
		err  string // "" = valid
	}{
		{"max_lag", asset.FreshnessPolicy{MaxLag: time.Hour}, ""},
		{"max_lag and warn_after", asset.FreshnessPolicy{MaxLag: time.Hour, WarnAfter: 30 * time.Minute}, ""},
		{"cron", asset.FreshnessPolicy{Cron: "0 7 * * *", Timezone: "Europe/Paris", MaxLag: 8 * time.Hour}, ""},
		{"cron with zero max_lag", asset.FreshnessPolicy{Cron: "@hourly"}, ""},
		{"empty", asset.FreshnessPolicy{}, "max_lag is required"},
		{"grace", asset.FreshnessPolicy{MaxLag: time.Hour, Grace: 48 * time.Hour}, ""},
		{"negative grace", asset.FreshnessPolicy{MaxLag: time.Hour, Grace: -time.Hour}, "grace -1h0m0s is negative"},
		{"negative max_lag", asset.FreshnessPolicy{MaxLag: -time.Hour}, "negative"},
		{"negative warn_after", asset.FreshnessPolicy{MaxLag: time.Hour, WarnAfter: -time.Minute}, "negative"},
		{"warn_after at max_lag", asset.FreshnessPolicy{MaxLag: time.Hour, WarnAfter: time.Hour}, "warn_after 1h must be less than max_lag 1h"},
		{"timezone without cron", asset.FreshnessPolicy{MaxLag: time.Hour, Timezone: "UTC"}, "cron is not"},
		{"warn_after with cron", asset.FreshnessPolicy{Cron: "0 7 * * *", MaxLag: time.Hour, WarnAfter: time.Minute}, "warn_after applies"},
		{"bad cron", asset.FreshnessPolicy{Cron: "0 25 * * *", MaxLag: time.Hour}, "cron \"0 25 * * *\""},
		{"six fields", asset.FreshnessPolicy{Cron: "0 0 7 * * *", MaxLag: time.Hour}, "cron"},
		{"@every", asset.FreshnessPolicy{Cron: "@every 1h", MaxLag: time.Hour}, "use max_lag"},
		{"zone in the expression", asset.FreshnessPolicy{Cron: "CRON_TZ=UTC 0 7 * * *", MaxLag: time.Hour}, "set the time zone in timezone"},
		{"unknown zone", asset.FreshnessPolicy{Cron: "0 7 * * *", Timezone: "Mars/Olympus", MaxLag: time.Hour}, "timezone \"Mars/Olympus\""},
		{"never fires", asset.FreshnessPolicy{Cron: "0 0 31 2 *", MaxLag: time.Hour}, "never fires"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := CompilePolicy(tc.p)
			if tc.err == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if p.Spec() != tc.p || p.MaxLag() != tc.p.MaxLag || p.IsCron() != (tc.p.Cron != "") || p.String() == "" {
					t.Errorf("accessors disagree with %+v: %s", tc.p, p)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrInvalidPolicy) || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want ErrInvalidPolicy containing %q", err, tc.err)
			}
		})
	}
}
