package config

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestRetentionBlock(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		want Retention
	}{
		{"absent keeps everything", "assets: []\n", Retention{}},
		{"null block", "assets: []\nretention:\n", Retention{}},
		{"windows", "assets: []\nretention: {events: 400d, run_logs: 30d, interval: 6h}\n",
			Retention{Events: 400 * 24 * time.Hour, RunLogs: 30 * 24 * time.Hour, Interval: 6 * time.Hour}},
		{"zero keeps that history", "assets: []\nretention: {events: 0s, run_logs: 7d}\n", Retention{RunLogs: 7 * 24 * time.Hour}},
		{"policies within the window", "assets:\n  - key: a\n    freshness: {max_lag: 2d, grace: 10d}\nretention: {events: 10d}\n",
			Retention{Events: 10 * 24 * time.Hour}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := mustParse(t, tt.src).Retention
			got.eventsLine = 0
			if got != tt.want {
				t.Errorf("retention = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestRetentionProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src string
		line      int
		field     string
		msg       string
	}{
		{"not a mapping", "assets: []\nretention: 30d\n", 2, "retention", "expected a mapping"},
		{"unknown field", "assets: []\nretention: {evnets: 30d}\n", 2, "retention.evnets", `unknown field "evnets"`},
		{"no unit", "assets: []\nretention:\n  events: 30\n", 3, "retention.events", "give a unit"},
		{"bad duration", "assets: []\nretention:\n  run_logs: a month\n", 3, "retention.run_logs", "invalid duration"},
		{"negative", "assets: []\nretention:\n  events: -1d\n", 3, "retention.events", "negative"},
		{"below the minimum", "assets: []\nretention:\n  run_logs: 12h\n", 3, "retention.run_logs", "12h is shorter than the minimum window 1d"},
		{"interval below a minute", "assets: []\nretention:\n  events: 30d\n  interval: 10s\n", 4, "retention.interval", "10s is shorter than 1m"},
		{"window shorter than a max_lag", "assets:\n  - key: a\n    freshness: {max_lag: 45d}\nretention:\n  events: 30d\n", 5, "retention.events",
			"30d is shorter than the max_lag 45d of a"},
		{"window shorter than a grace", "assets:\n  - key: a\n    freshness: {max_lag: 1h, grace: 60d}\nretention:\n  events: 30d\n", 5, "retention.events",
			"shorter than the grace 60d of a"},
		{"window shorter than a selection's max_lag", "assets: []\nfreshness_policies:\n  - select: {group: raw}\n    max_lag: 90d\nretention: {events: 30d}\n", 5, "retention.events",
			"shorter than the max_lag 90d of freshness_policies[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ps := parseProblems(t, tt.src)
			if len(ps) != 1 {
				t.Fatalf("got %d problems, want 1:\n%v", len(ps), lines(ps))
			}
			p := ps[0]
			if p.Line != tt.line || p.Field != tt.field || !strings.Contains(p.Message, tt.msg) {
				t.Errorf("got line %d field %q message %q, want line %d field %q containing %q", p.Line, p.Field, p.Message, tt.line, tt.field, tt.msg)
			}
		})
	}
}

// The retention examples of the docs are valid files.
func TestRetentionDocExamples(t *testing.T) {
	t.Parallel()
	n := 0
	for _, doc := range []string{"../docs/config.md", "../docs/operations.md"} {
		data, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for i, block := range strings.Split(string(data), "```yaml\n")[1:] {
			block, _, _ = strings.Cut(block, "```")
			if !strings.HasPrefix(block, "retention:") {
				continue
			}
			n++
			f, err := Parse(doc, []byte(block))
			if err != nil {
				t.Errorf("%s, yaml block %d: %v", doc, i+1, err)
				continue
			}
			if f.Retention.Events <= 0 || f.Retention.RunLogs <= 0 {
				t.Errorf("%s, yaml block %d: retention = %+v, want both windows set", doc, i+1, f.Retention)
			}
		}
	}
	if n != 2 {
		t.Errorf("%d retention examples in the docs, want one in config.md and one in operations.md", n)
	}
}
