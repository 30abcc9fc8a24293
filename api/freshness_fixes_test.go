package api_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/app"
)

const twoGroups = `
assets:
  - key: raw/a
    group: raw
    freshness: {max_lag: 1h}
  - key: raw/b
    group: raw
    freshness: {max_lag: 1h}
  - key: marts/c
    group: marts
    freshness: {max_lag: 1h}
`

// TestFreshnessCountsFollowTheGroup: the counts of GET /freshness?group=
// are the group's, not the whole catalog's (status headers print them).
func TestFreshnessCountsFollowTheGroup(t *testing.T) {
	t.Parallel()
	base := serverWith(t, func(c *app.Config) { c.Definitions = definitions(t, twoGroups) })
	old := time.Now().UTC().Add(-3 * time.Hour).Format(time.RFC3339)
	body := fmt.Sprintf(`[{"kind":"materialization","asset":"raw/a","time":%q},{"kind":"materialization","asset":"marts/c","time":%q}]`, old, old)
	if r := post(t, base+"/api/v1/events", "application/json", body); r.status != http.StatusAccepted {
		t.Fatalf("POST = %d %s", r.status, r.body)
	}
	eventually(t, base+"/api/v1/freshness", `"FAIL":2`)
	got := get(t, base+"/api/v1/freshness?group=raw&state=FAIL").json(t)
	counts, _ := got["counts"].(map[string]any)
	if counts["FAIL"] != float64(1) || counts["UNKNOWN"] != float64(1) || len(counts) != 2 {
		t.Errorf("counts for group raw = %v, want FAIL 1 (raw/a) and UNKNOWN 1 (raw/b)", counts)
	}
	if assets, _ := got["assets"].([]any); len(assets) != 1 {
		t.Errorf("assets = %v, want raw/a only", assets)
	}
}

// TestEventsOfUnknownAsset: like every other per-asset route, the history
// of an asset nobody has heard of is a 404 naming the key.
func TestEventsOfUnknownAsset(t *testing.T) {
	t.Parallel()
	base := server(t, 0)
	r := get(t, base+"/api/v1/assets/nope%2Fnothing/events")
	if r.status != http.StatusNotFound {
		t.Fatalf("status = %d %s, want 404", r.status, r.body)
	}
	if code, field, _ := errorOf(t, r); code != "not_found" || field != "key" {
		t.Errorf("error code %q field %q, want not_found on key", code, field)
	}
	if r := get(t, base+"/api/v1/assets/raw%2Forders/events"); r.status != http.StatusOK {
		t.Errorf("a declared asset without events = %d, want 200 with an empty list", r.status)
	}
}

// TestSamePolicyTwiceIsOneAuditEntry: repeating an SLA (a retried or
// scripted PUT) records nothing new; a different one does.
func TestSamePolicyTwiceIsOneAuditEntry(t *testing.T) {
	t.Parallel()
	base := server(t, 0)
	put := func(body string) {
		t.Helper()
		r := do(t, http.MethodPut, base+"/api/v1/assets/marts%2Frevenue/freshness/policy", "application/json", body)
		if r.status != http.StatusOK {
			t.Fatalf("PUT %s = %d %s", body, r.status, r.body)
		}
	}
	put(`{"max_lag":"3h","actor":"carol"}`)
	put(`{"max_lag":"3h","actor":"carol"}`)
	put(`{"max_lag":"180m","actor":"dave"}`) // the same policy, written otherwise
	drained(t, base)
	audit := func() []any {
		a, _ := get(t, base+"/api/v1/assets/marts%2Frevenue/freshness").json(t)["audit"].([]any)
		return a
	}
	if a := audit(); len(a) != 1 {
		t.Fatalf("audit has %d entries after the same SLA three times, want 1: %v", len(a), a)
	}
	put(`{"max_lag":"4h","actor":"carol"}`)
	drained(t, base)
	if a := audit(); len(a) != 2 {
		t.Errorf("audit has %d entries after a change, want 2", len(a))
	}
}

// TestCronPolicyOverHTTP: one rule for cron SLAs: max_lag optional, at
// least 1m when given, each refusal a 400 naming the field.
func TestCronPolicyOverHTTP(t *testing.T) {
	t.Parallel()
	base := server(t, 0)
	put := func(body string) response {
		return do(t, http.MethodPut, base+"/api/v1/assets/marts%2Frevenue/freshness/policy", "application/json", body)
	}
	if r := put(`{"cron":"0 7 * * *","timezone":"Europe/Paris"}`); r.status != http.StatusOK {
		t.Fatalf("cron without max_lag = %d %s, want 200", r.status, r.body)
	} else if p, _ := r.json(t)["policy"].(map[string]any); p["cron"] != "0 7 * * *" {
		t.Errorf("policy = %v", p)
	}
	for _, c := range []struct{ body, field string }{
		{`{"cron":"0 7 * * *","max_lag":"30s"}`, "max_lag"},
		{`{"cron":"0 7 * * *","max_lag":"-1h"}`, "max_lag"},
		{`{"cron":"0 7 * * *","warn_after":"1h"}`, "warn_after"},
		{`{"cron":"61 7 * * *"}`, "cron"},
		{`{"cron":"0 7 * * *","timezone":"Mars/Olympus"}`, "timezone"},
		{`{"warn_after":"1h"}`, "max_lag"},
	} {
		r := put(c.body)
		if r.status != http.StatusBadRequest {
			t.Errorf("%s = %d, want 400", c.body, r.status)
			continue
		}
		if _, field, _ := errorOf(t, r); field != c.field {
			t.Errorf("%s: field %q, want %q (%s)", c.body, field, c.field, r.body)
		}
	}
}
