package asset

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"0", 0},
		{"0s", 0},
		{"90m", 90 * time.Minute},
		{"2h", 2 * time.Hour},
		{"2d", 48 * time.Hour},
		{"1w", 7 * 24 * time.Hour},
		{"1d12h", 36 * time.Hour},
		{"1w2d3h4m5s", (9*24+3)*time.Hour + 4*time.Minute + 5*time.Second},
		{"1.5h", 90 * time.Minute},
		{"1.5d", 36 * time.Hour},
		{".5s", 500 * time.Millisecond},
		{"+3m", 3 * time.Minute},
		{"500ms", 500 * time.Millisecond},
		{"1us", time.Microsecond},
		{"1µs", time.Microsecond},
		{"1μs", time.Microsecond},
		{"7ns", 7},
		{"1.000000001s", time.Second + 1},
		{"1.0000000019s", time.Second + 1}, // beyond a nanosecond is truncated
		{"2562047h47m16.854775807s", math.MaxInt64},
		{"106751d23h47m16.854775807s", math.MaxInt64},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseDurationErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, msg string }{
		{"", "empty"},
		{"-1h", "negative"},
		{"-0", "negative"},
		{"+", "no number"},
		{"2", "missing unit"},
		{"1h30", "missing unit"},
		{"2y", `unknown unit "y"`},
		{"2 h", `unknown unit " h"`},
		{"h", "expected a number"},
		{"1h.", "expected a number"},
		{".", "expected a number"},
		{"1d-2h", `unknown unit "d-"`},
		{"2562047h47m16.854775808s", "too large"},
		{"106752d", "too large"},
		{"99999999999999999999ns", "too large"},
		{"15250285w", "too large"},
		{"9223372036854775807ns1ns", "too large"},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("ParseDuration(%q) = %v, %v; want an error containing %q", tt.in, got, err, tt.msg)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0s"},
		{time.Nanosecond, "1ns"},
		{500 * time.Millisecond, "500ms"},
		{time.Second, "1s"},
		{90 * time.Second, "1m30s"},
		{90 * time.Minute, "1h30m"},
		{2 * time.Hour, "2h"},
		{24 * time.Hour, "1d"},
		{36 * time.Hour, "1d12h"},
		{14 * 24 * time.Hour, "14d"},
		{24*time.Hour + time.Second, "1d1s"},
		{time.Minute + 500*time.Millisecond, "1m0.5s"},
		{time.Hour + time.Nanosecond, "1h0.000000001s"},
		{-90 * time.Minute, "-1h30m"},
		{math.MaxInt64, "106751d23h47m16.854775807s"},
		{math.MinInt64, "-106751d23h47m16.854775808s"},
	}
	for _, tt := range tests {
		if got := FormatDuration(tt.in); got != tt.want {
			t.Errorf("FormatDuration(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDurationRoundTrip(t *testing.T) {
	t.Parallel()
	check := func(d time.Duration) {
		s := FormatDuration(d)
		got, err := ParseDuration(s)
		if err != nil || got != d {
			t.Fatalf("ParseDuration(FormatDuration(%d) = %q) = %v, %v", int64(d), s, int64(got), err)
		}
	}
	for _, d := range []time.Duration{0, 1, 999, time.Second, time.Minute, time.Hour, 24 * time.Hour, 36 * time.Hour, math.MaxInt64} {
		check(d)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		// Spread over magnitudes, and over round values where units matter.
		check(time.Duration(r.Int64N(math.MaxInt64)) >> r.UintN(63))
		check(time.Duration(r.Int64N(1000)) * []time.Duration{time.Second, time.Minute, time.Hour, 24 * time.Hour}[r.IntN(4)])
	}
}

func FuzzDuration(f *testing.F) {
	for _, s := range []string{"1d12h", "90m", "0", "1.5h", "-1h", "2562047h47m16.854775807s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			return
		}
		if d < 0 {
			t.Fatalf("ParseDuration(%q) = %v, negative", s, d)
		}
		if back, err := ParseDuration(FormatDuration(d)); err != nil || back != d {
			t.Fatalf("round trip of %q (%d): %q -> %v, %v", s, d, FormatDuration(d), back, err)
		}
	})
}

func TestFreshnessPolicyJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want FreshnessPolicy
		out  string
	}{
		{`{"max_lag":"2h","warn_after":"90m"}`, FreshnessPolicy{MaxLag: 2 * time.Hour, WarnAfter: 90 * time.Minute}, `{"max_lag":"2h","warn_after":"1h30m"}`},
		{`{"max_lag":"1d12h","cron":"0 7 * * *","timezone":"Europe/Paris"}`, FreshnessPolicy{MaxLag: 36 * time.Hour, Cron: "0 7 * * *", Timezone: "Europe/Paris"}, `{"max_lag":"1d12h","cron":"0 7 * * *","timezone":"Europe/Paris"}`},
		{`{"max_lag":7200000000000}`, FreshnessPolicy{MaxLag: 2 * time.Hour}, `{"max_lag":"2h"}`},
	}
	for _, tt := range tests {
		var p FreshnessPolicy
		if err := json.Unmarshal([]byte(tt.in), &p); err != nil || p != tt.want {
			t.Errorf("%s: got %+v, %v", tt.in, p, err)
		}
		if b, _ := json.Marshal(p); string(b) != tt.out {
			t.Errorf("%s: marshals as %s, want %s", tt.in, b, tt.out)
		}
	}
	for _, bad := range []string{`{"max_lag":"2 hours"}`, `{"max_lag":-5}`, `{"warn_after":true}`, `{"max_lag":"-1h"}`} {
		var p FreshnessPolicy
		if err := json.Unmarshal([]byte(bad), &p); err == nil {
			t.Errorf("%s accepted: %+v", bad, p)
		}
	}
}
