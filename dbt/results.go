package dbt

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"math"
	"strings"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// runResultsVersions: dbt 1.5 wrote v4, 1.6 and 1.7 v5, 1.8 and later v6.
var runResultsVersions = []int{4, 5, 6}

// sourcesVersions: sources.json has been v3 since dbt 1.0.
var sourcesVersions = []int{3}

// maxClockSkew is how far past the importing server's clock an event
// may lie (as for every event: ingest.MaxClockSkew).
const maxClockSkew = 5 * time.Minute

type runResults struct {
	Metadata *metadata          `json:"metadata"`
	Results  *[]json.RawMessage `json:"results"`
}

type runResult struct {
	UniqueID        string          `json:"unique_id"`
	Status          string          `json:"status"`
	Timing          []timing        `json:"timing"`
	ThreadID        string          `json:"thread_id"`
	ExecutionTime   *float64        `json:"execution_time"`
	AdapterResponse json.RawMessage `json:"adapter_response"`
	Message         *string         `json:"message"`
	Failures        *int64          `json:"failures"`
}

type timing struct {
	Name        string `json:"name"`
	StartedAt   string `json:"started_at"`
	CompletedAt string `json:"completed_at"`
}

type sourcesFile struct {
	Metadata *metadata          `json:"metadata"`
	Results  *[]json.RawMessage `json:"results"`
}

type sourceResult struct {
	UniqueID      string   `json:"unique_id"`
	Status        string   `json:"status"`
	MaxLoadedAt   string   `json:"max_loaded_at"`
	SnapshottedAt string   `json:"snapshotted_at"`
	AgeSeconds    *float64 `json:"max_loaded_at_time_ago_in_s"`
	Error         *string  `json:"error"`
	ExecutionTime *float64 `json:"execution_time"`
}

// Counts says what an import made.
type Counts struct {
	Assets           int `json:"assets"`
	Checks           int `json:"checks"`           // checks declared (tests, source freshness)
	ColumnLineage    int `json:"column_lineage"`   // columns with lineage inferred from compiled SQL
	Materializations int `json:"materializations"` // successful model, seed and snapshot runs
	Failures         int `json:"failures"`         // failed ones
	Tests            int `json:"tests"`            // test results, one per tested asset
	TestsFailed      int `json:"tests_failed"`     // of which did not pass (fail, warn, error)
	Observations     int `json:"observations"`     // source freshness results with a max_loaded_at
	Skipped          int `json:"skipped"`          // results that say nothing to record (skipped nodes, analyses)
}

// runEvents maps run_results.json to events.
func (p *project) runEvents(data []byte, m *Manifest, now time.Time) ([]asset.Event, Counts, error) {
	const art = ArtifactRunResults
	var rr runResults
	var c Counts
	if err := decodeTop(art, data, &rr); err != nil {
		return nil, c, err
	}
	if _, err := checkVersion(art, "run-results", rr.Metadata, runResultsVersions, "dbt 1.5 and later"); err != nil {
		return nil, c, err
	}
	if rr.Results == nil {
		return nil, c, missingField(art, "results", "results is required (an array of node results)")
	}
	inv := rr.Metadata.InvocationID
	generated, generatedOK := parseTime(rr.Metadata.GeneratedAt)
	var out []asset.Event
	for i, raw := range *rr.Results {
		path := index("results", i)
		var r runResult
		if err := json.Unmarshal(raw, &r); err != nil {
			return nil, c, decodeErr(art, path, raw, err)
		}
		if r.UniqueID == "" {
			return nil, c, missingField(art, path+".unique_id", "unique_id is required")
		}
		if r.Status == "" {
			return nil, c, missingField(art, path+".status", "status is required")
		}
		n := m.Nodes[r.UniqueID]
		if n == nil {
			return nil, c, fieldErr(art, path+".unique_id", "%q is not a node of the manifest (were they written by the same project?)", r.UniqueID)
		}
		at, err := resultTime(r.Timing, path, generated, generatedOK, now)
		if err != nil {
			return nil, c, err
		}
		meta := asset.Metadata{"dbt_unique_id": asset.Text(r.UniqueID), "dbt_status": asset.Text(r.Status)}
		if r.ExecutionTime != nil && *r.ExecutionTime > 0 && !math.IsInf(*r.ExecutionTime, 0) {
			meta["duration_s"] = asset.Float(*r.ExecutionTime)
		}
		if r.Message != nil && *r.Message != "" {
			meta["message"] = asset.Text(truncate(*r.Message, 4096))
		}
		if ar := compactObject(r.AdapterResponse); ar != "" {
			meta["dbt_adapter_response"] = asset.JSONValue(ar)
		}
		switch {
		case n.isAsset():
			k := p.keys[r.UniqueID]
			ev := asset.Event{Asset: k, Time: at, RunID: runID(inv), Metadata: meta}
			switch r.Status {
			case "success", "partial success": // partial: a microbatch model with failed batches
				ev.Kind = asset.KindMaterialization
				ev.Upstream = p.deps[r.UniqueID]
				if rows, ok := rowsAffected(r.AdapterResponse); ok {
					meta[asset.RowCountKey] = asset.Int(rows)
				}
				c.Materializations++
			case "error":
				ev.Kind = asset.KindMaterializationFailed
				c.Failures++
			case "skipped", "no-op":
				c.Skipped++
				continue
			default:
				return nil, c, fieldErr(art, path+".status", "a %s's status must be success, partial success, error or skipped, not %q", n.ResourceType, r.Status)
			}
			ev.ID = eventID(inv, r.UniqueID, k)
			out = append(out, ev)
		case n.ResourceType == "test":
			var passed bool
			switch r.Status {
			case "pass":
				passed = true
			case "fail", "warn", "error":
			case "skipped":
				c.Skipped++
				continue
			default:
				return nil, c, fieldErr(art, path+".status", "a test's status must be pass, fail, warn, error or skipped, not %q", r.Status)
			}
			t, ok := p.tests[r.UniqueID]
			if !ok {
				c.Skipped++
				continue
			}
			sev := t.severity
			if r.Status == "warn" {
				sev = asset.SeverityWarn
			}
			if r.Failures != nil {
				meta["failures"] = asset.Int(*r.Failures)
			}
			for _, k := range t.assets {
				out = append(out, asset.Event{ID: eventID(inv, r.UniqueID, k), Kind: asset.KindCheckResult, Asset: k, Time: at,
					RunID: runID(inv), Metadata: maps.Clone(meta), Check: &asset.CheckResult{Name: t.check, Passed: passed, Severity: sev}})
				c.Tests++
				if !passed {
					c.TestsFailed++
				}
			}
		default:
			c.Skipped++ // analyses, operations
		}
	}
	return out, c, nil
}

// sourceEvents maps sources.json to an observation (data time
// max_loaded_at) and a FreshnessCheck result per source.
func (p *project) sourceEvents(data []byte, m *Manifest, now time.Time) ([]asset.Event, Counts, error) {
	const art = ArtifactSources
	var sf sourcesFile
	var c Counts
	if err := decodeTop(art, data, &sf); err != nil {
		return nil, c, err
	}
	if _, err := checkVersion(art, "sources", sf.Metadata, sourcesVersions, "dbt 1.0 and later"); err != nil {
		return nil, c, err
	}
	if sf.Results == nil {
		return nil, c, missingField(art, "results", "results is required (an array of source freshness results)")
	}
	inv := sf.Metadata.InvocationID
	generated, generatedOK := parseTime(sf.Metadata.GeneratedAt)
	var out []asset.Event
	for i, raw := range *sf.Results {
		path := index("results", i)
		var r sourceResult
		if err := json.Unmarshal(raw, &r); err != nil {
			return nil, c, decodeErr(art, path, raw, err)
		}
		if r.UniqueID == "" {
			return nil, c, missingField(art, path+".unique_id", "unique_id is required")
		}
		n := m.Sources[r.UniqueID]
		if n == nil {
			return nil, c, fieldErr(art, path+".unique_id", "%q is not a source of the manifest", r.UniqueID)
		}
		k := p.keys[r.UniqueID]
		var passed bool
		sev := asset.SeverityError
		switch r.Status {
		case "pass":
			passed = true
		case "warn":
			sev = asset.SeverityWarn
		case "error", "runtime error":
		case "":
			return nil, c, missingField(art, path+".status", "status is required")
		default:
			return nil, c, fieldErr(art, path+".status", "status must be pass, warn, error or runtime error, not %q", r.Status)
		}
		at := generated
		if r.SnapshottedAt != "" {
			t, ok := parseTime(r.SnapshottedAt)
			if !ok {
				return nil, c, fieldErr(art, path+".snapshotted_at", "%q is not a time such as 2026-11-25T07:00:00Z", r.SnapshottedAt)
			}
			at = t
		} else if !generatedOK {
			return nil, c, missingField(art, path+".snapshotted_at", "snapshotted_at is required when metadata.generated_at is absent")
		}
		if at.After(now.Add(maxClockSkew)) {
			return nil, c, fieldErr(art, path+".snapshotted_at", "%s is in the future (server time %s): check the clock of the machine that ran dbt", at.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
		}
		meta := asset.Metadata{"dbt_unique_id": asset.Text(r.UniqueID), "dbt_freshness_status": asset.Text(r.Status)}
		if r.AgeSeconds != nil && *r.AgeSeconds >= 0 && !math.IsInf(*r.AgeSeconds, 0) {
			meta["max_loaded_at_time_ago_in_s"] = asset.Float(*r.AgeSeconds)
		}
		if r.Error != nil && *r.Error != "" {
			meta["message"] = asset.Text(truncate(*r.Error, 4096))
		}
		if r.MaxLoadedAt != "" && r.Status != "runtime error" {
			loaded, ok := parseTime(r.MaxLoadedAt)
			if !ok {
				return nil, c, fieldErr(art, path+".max_loaded_at", "%q is not a time such as 2026-11-25T07:00:00Z", r.MaxLoadedAt)
			}
			// Data cannot be current as of a time after it was looked at:
			// a loader's clock ahead of the warehouse's is read as now.
			if loaded.After(at) {
				loaded = at
			}
			out = append(out, asset.Event{ID: eventID(inv, r.UniqueID, k), Kind: asset.KindObservation, Asset: k, Time: at,
				RunID: runID(inv), DataTime: &loaded, Metadata: meta})
			c.Observations++
		}
		if n.Freshness.policy() != nil {
			out = append(out, asset.Event{ID: eventID(inv, r.UniqueID+"#freshness", k), Kind: asset.KindCheckResult, Asset: k, Time: at,
				RunID: runID(inv), Metadata: maps.Clone(meta), Check: &asset.CheckResult{Name: FreshnessCheck, Passed: passed, Severity: sev}})
			c.Tests++
			if !passed {
				c.TestsFailed++
			}
		}
	}
	return out, c, nil
}

// resultTime is when a result happened: the end of its execute step,
// else of its last step, else the run results' generated_at.
func resultTime(ts []timing, path string, generated time.Time, generatedOK bool, now time.Time) (time.Time, error) {
	at, ok := time.Time{}, false
	for i, t := range ts {
		if t.CompletedAt == "" {
			continue
		}
		ct, good := parseTime(t.CompletedAt)
		if !good {
			return time.Time{}, fieldErr(ArtifactRunResults, index(path+".timing", i)+".completed_at", "%q is not a time such as 2026-11-25T07:00:00Z", t.CompletedAt)
		}
		if t.Name == "execute" || !ok || ct.After(at) {
			at, ok = ct, true
		}
		if t.Name == "execute" {
			break
		}
	}
	if !ok {
		if !generatedOK {
			return time.Time{}, missingField(ArtifactRunResults, path+".timing", "the result has no timing and metadata.generated_at is absent: when did it run?")
		}
		at = generated
	}
	if at.After(now.Add(maxClockSkew)) {
		return time.Time{}, fieldErr(ArtifactRunResults, path+".timing", "%s is in the future (server time %s): check the clock of the machine that ran dbt", at.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return at, nil
}

// parseTime reads dbt's times: RFC 3339, or without a zone (UTC, as dbt
// writes them).
func parseTime(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			if t.Before(time.Unix(0, 0)) {
				return time.Time{}, false
			}
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// eventID is "dbt-" and 128 bits of a SHA-256 of the invocation, the node
// and the asset: importing the same results twice stores them once.
func eventID(invocation, uniqueID string, k asset.Key) string {
	h := sha256.New()
	for _, s := range []string{invocation, uniqueID, string(k)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return "dbt-" + hex.EncodeToString(h.Sum(nil)[:16])
}

// runID is the dbt invocation id as the events' run, within the 200
// bytes a run id may have.
func runID(inv string) string { return truncate(strings.TrimSpace(inv), 200) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && s[len(s)-1]&0xC0 == 0x80 { // do not cut a UTF-8 sequence
		s = s[:len(s)-1]
	}
	if len(s) > 0 && s[len(s)-1] >= 0xC0 {
		s = s[:len(s)-1]
	}
	return s
}

// compactObject is a non-empty JSON object as compact text ("" for
// anything else).
func compactObject(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) < 3 || raw[0] != '{' {
		return ""
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil || b.Len() <= 2 {
		return ""
	}
	return b.String()
}

// rowsAffected is adapter_response.rows_affected when it is a count (a
// view's -1 is not).
func rowsAffected(raw json.RawMessage) (int64, bool) {
	var ar struct {
		Rows *json.Number `json:"rows_affected"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &ar) != nil || ar.Rows == nil {
		return 0, false
	}
	n, err := ar.Rows.Int64()
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}
