package receiver

import (
	"slices"
	"testing"

	"github.com/freshet-dev/freshet/alerts"
	"github.com/freshet-dev/freshet/alerts/receivertest"
)

// TestDatadogWire sends a firing and a resolved notification and checks
// every parsed field of the event, service check and gauge of each.
func TestDatadogWire(t *testing.T) {
	t.Parallel()
	s := newDogstatsdUDP(t)
	d := newTestDatadog(t, s.addr, quiet())
	n := receivertest.Sample("orders-fresh:raw/orders")
	if err := d.Send(t.Context(), n); err != nil {
		t.Fatal(err)
	}
	if err := d.Send(t.Context(), receivertest.Resolve(n, n.StartsAt)); err != nil {
		t.Fatal(err)
	}
	p := s.wait(t, 2)

	tags := []string{"env:test", "asset:marts/revenue", "root_cause:raw/orders", "group:sales", "rule:orders-fresh", "owner:team:data-eng", "owner:ana@example.com"}
	for i, want := range []struct {
		title, alertType, state string
		check                   int
		lag                     float64
	}{
		{"[FIRING] " + n.Summary, "error", "firing", 2, 8100},
		{"[RESOLVED] " + n.Summary, "success", "resolved", 0, 0},
	} {
		e := p.Events[i]
		if e.Title != want.title || e.AlertType != want.alertType || e.AggKey != n.Key || e.Source != "freshet" {
			t.Errorf("event %d: %+v", i, e)
		}
		if !slices.Equal(e.Tags, append(slices.Clone(tags), "state:"+want.state, "severity:critical")) {
			t.Errorf("event %d tags %v", i, e.Tags)
		}
		if e.Text != describe(&n) && i == 0 {
			t.Errorf("event text %q", e.Text)
		}
		sc := p.Checks[i]
		if sc.Name != DatadogServiceCheck || sc.Status != want.check || sc.Message != n.Summary || !slices.Equal(sc.Tags, tags) {
			t.Errorf("service check %d: %+v", i, sc)
		}
	}
	var gauges []dsdMetric
	for _, m := range p.Metrics {
		if m.Name == DatadogLagGauge {
			gauges = append(gauges, m)
		}
	}
	for i, lag := range []float64{8100, 0} {
		if g := gauges[i]; g.Type != "g" || g.Value != lag || !slices.Equal(g.Tags, tags) {
			t.Errorf("gauge %d: %+v, want %v", i, g, lag)
		}
	}
}

func TestDatadogSeverityMapping(t *testing.T) {
	t.Parallel()
	s := newDogstatsdUnix(t)
	d := newTestDatadog(t, s.addr, quiet())
	cases := []struct {
		sev       alerts.Severity
		alertType string
		check     int
	}{{alerts.Critical, "error", 2}, {alerts.Error, "error", 2}, {alerts.Warning, "warning", 1}, {alerts.Info, "info", 0}}
	for _, c := range cases {
		n := receivertest.Sample("k")
		n.Severity = c.sev
		if err := d.Send(t.Context(), n); err != nil {
			t.Fatal(err)
		}
	}
	p := s.wait(t, len(cases))
	for i, c := range cases {
		if p.Events[i].AlertType != c.alertType || p.Checks[i].Status != c.check {
			t.Errorf("%s: event %q check %d, want %q %d", c.sev, p.Events[i].AlertType, p.Checks[i].Status, c.alertType, c.check)
		}
	}
}

// TestDatadogSeparatorsInValues: asset keys and dedup keys may hold the
// characters DogStatsD uses as separators; they must not break the line.
func TestDatadogSeparatorsInValues(t *testing.T) {
	t.Parallel()
	s := newDogstatsdUDP(t)
	d := newTestDatadog(t, s.addr, quiet())
	n := receivertest.Sample("rule|a,b#c")
	n.Asset = "db/s.t|x,y"
	n.Owners = []string{"Data Eng"}
	if err := d.Send(t.Context(), n); err != nil {
		t.Fatal(err)
	}
	p := s.wait(t, 1) // a parse error would fail here
	if e := p.Events[0]; e.AggKey != "rule_a_b_c" || !slices.Contains(e.Tags, "asset:db/s.t_x_y") || !slices.Contains(e.Tags, "owner:Data_Eng") {
		t.Fatalf("event %+v", e)
	}
}
