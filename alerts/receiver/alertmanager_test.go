package receiver

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/alerts"
	"github.com/freshet-dev/freshet/alerts/receivertest"
)

func TestAlertmanagerWire(t *testing.T) {
	t.Parallel()
	f := fakeAlertmanager(t)
	a := newTestAlertmanager(t, quiet(), f.srv.URL)
	n := receivertest.Sample("orders-fresh:raw/orders")
	end := n.StartsAt.Add(2 * time.Hour)
	if err := a.Send(t.Context(), n); err != nil {
		t.Fatal(err)
	}
	if err := a.Send(t.Context(), receivertest.Resolve(n, end)); err != nil {
		t.Fatal(err)
	}
	got := f.wait(t, 2)
	labels := map[string]string{"alertname": "orders-fresh", "asset": "marts/revenue", "root_cause": "raw/orders",
		"rule": "orders-fresh", "severity": "critical", "group": "sales", "dedup_key": n.Key}
	for i, al := range got {
		if !maps.Equal(al.Labels, labels) {
			t.Errorf("alert %d labels %v, want %v", i, al.Labels, labels)
		}
		if !al.StartsAt.Equal(n.StartsAt) || al.GeneratorURL != n.Links["asset"] {
			t.Errorf("alert %d startsAt %v generatorURL %q", i, al.StartsAt, al.GeneratorURL)
		}
	}
	if got[0].EndsAt != nil {
		t.Errorf("firing alert has endsAt %v", got[0].EndsAt)
	}
	if got[1].EndsAt == nil || !got[1].EndsAt.Equal(end) {
		t.Errorf("resolved alert endsAt %v, want %v", got[1].EndsAt, end)
	}
	ann := got[0].Annotations
	if ann["summary"] != n.Summary || ann["impacted"] != "staging/orders, marts/revenue, marts/daily_kpis" ||
		!strings.Contains(ann["description"], "Root cause: raw/orders") || ann["runbook_url"] != n.Links["runbook"] || ann["lag"] != "2h15m0s" {
		t.Errorf("annotations %v", ann)
	}
	// The body is a JSON array, as the API wants.
	f.mu.Lock()
	raw := f.raw[0]
	f.mu.Unlock()
	var arr []json.RawMessage
	if err := json.Unmarshal(raw, &arr); err != nil || len(arr) != 1 {
		t.Fatalf("body %s: %v", raw, err)
	}
}

func TestAlertmanagerFiringEndsAfter(t *testing.T) {
	t.Parallel()
	f := fakeAlertmanager(t)
	a, err := NewAlertmanager(AlertmanagerConfig{URLs: []string{f.srv.URL}, FiringEndsAfter: 10 * time.Minute, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	a.now = func() time.Time { return now }
	n := receivertest.Sample("k")
	n.Links = nil
	if err := a.Send(t.Context(), n); err != nil {
		t.Fatal(err)
	}
	al := f.wait(t, 1)[0]
	if al.EndsAt == nil || !al.EndsAt.Equal(now.Add(10*time.Minute)) || al.GeneratorURL != "" {
		t.Fatalf("endsAt %v generatorURL %q", al.EndsAt, al.GeneratorURL)
	}
}

// TestAlertmanagerSeveralURLs: delivered when one accepts; when all fail,
// retryable if one was, with the longest Retry-After.
func TestAlertmanagerSeveralURLs(t *testing.T) {
	t.Parallel()
	up, down := fakeAlertmanager(t), closedURL(t)
	a := newTestAlertmanager(t, quiet(), down, up.srv.URL)
	if err := a.Send(t.Context(), receivertest.Sample("k")); err != nil {
		t.Fatalf("one of two up: %v", err)
	}
	up.wait(t, 1)

	f1, f2 := fakeAlertmanager(t), fakeAlertmanager(t)
	f1.fail(400, "", `"bad"`)
	f2.fail(429, "30", "slow down")
	err := newTestAlertmanager(t, quiet(), f1.srv.URL, f2.srv.URL).Send(t.Context(), receivertest.Sample("k"))
	if alerts.Classify(err) != alerts.Retryable || alerts.RetryAfter(err) != 30*time.Second {
		t.Fatalf("400 and 429: got %v (%s, %s)", err, alerts.Classify(err), alerts.RetryAfter(err))
	}
	f1.fail(400, "", `"bad"`)
	f2.fail(422, "", `"bad"`)
	err = newTestAlertmanager(t, quiet(), f1.srv.URL, f2.srv.URL).Send(t.Context(), receivertest.Sample("k"))
	if alerts.Classify(err) != alerts.Rejected {
		t.Fatalf("400 and 422: got %v, want rejected", err)
	}
}

func TestAlertmanagerConfig(t *testing.T) {
	t.Parallel()
	for _, urls := range [][]string{nil, {"am:9093"}, {"http://"}} {
		if _, err := NewAlertmanager(AlertmanagerConfig{URLs: urls}); err == nil {
			t.Errorf("%v: no error", urls)
		}
	}
	a, err := NewAlertmanager(AlertmanagerConfig{URLs: []string{"http://am:9093/prefix/"}, Logger: quiet()})
	if err != nil || a.urls[0] != "http://am:9093/prefix/api/v2/alerts" {
		t.Fatalf("%v %v", a.urls, err)
	}
}
