package examples

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// StaleAsset is the demo's broken upstream: its export keeps failing, so
// everything downstream of it goes stale (a root cause to find).
const StaleAsset asset.Key = "raw/crm/accounts"

// schedule says how often a demo asset is rebuilt and at which offset
// within the period, by group.
func schedule(s asset.Spec) (every, offset time.Duration) {
	switch {
	case s.Key == "raw/web/events":
		return 15 * time.Minute, 2 * time.Minute
	case s.Key == "marts/revenue_daily":
		return 24 * time.Hour, 6*time.Hour + 30*time.Minute
	case s.Group == "raw":
		return time.Hour, 5 * time.Minute
	case s.Group == "staging":
		return 3 * time.Hour, 20 * time.Minute
	case s.Group == "marts":
		return 6 * time.Hour, 40 * time.Minute
	case s.Group == "ml":
		return 24 * time.Hour, 4 * time.Hour
	default:
		return 6 * time.Hour, 50 * time.Minute
	}
}

// History generates the events the demo assets would have produced in
// [from, to). It is deterministic: the same window gives the same events
// with the same ids, so generating overlapping windows is harmless (the
// store ignores known ids). StaleAsset fails from staleSince on.
func History(specs []asset.Spec, from, to, staleSince time.Time) []asset.Event {
	var events []asset.Event
	for _, s := range specs {
		every, offset := schedule(s)
		start := from.Truncate(every).Add(offset)
		if start.Before(from) {
			start = start.Add(every)
		}
		for t := start; t.Before(to); t = t.Add(every) {
			events = append(events, build(s, t, staleSince)...)
		}
	}
	slices.SortFunc(events, func(a, b asset.Event) int { return a.Time.Compare(b.Time) })
	return events
}

func build(s asset.Spec, t time.Time, staleSince time.Time) []asset.Event {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s@%d", s.Key, t.Unix())
	rng := rand.New(rand.NewPCG(h.Sum64(), 42))
	id := fmt.Sprintf("demo:%s:%d", s.Key, t.Unix())
	runID := fmt.Sprintf("run-%x", h.Sum64()&0xffffffff)

	if s.Group == "dashboards" {
		return []asset.Event{{ID: id, Kind: asset.KindObservation, Asset: s.Key, Time: t,
			Metadata: asset.Metadata{
				"views_24h": asset.Int(int64(200 + rng.IntN(800))),
				"url":       asset.URL("https://looker.example.com/dashboards/" + s.Key.Name()),
			}}}
	}
	failed := rng.Float64() < 0.02 || (s.Key == StaleAsset && !t.Before(staleSince))
	duration := runDuration(s, rng)
	if failed {
		return []asset.Event{{ID: id, Kind: asset.KindMaterializationFailed, Asset: s.Key, Time: t, RunID: runID,
			Metadata: asset.Metadata{
				"error":      asset.Text(failureMessage(s)),
				"duration_s": asset.Float(duration),
			}}}
	}
	ev := asset.Event{ID: id, Kind: asset.KindMaterialization, Asset: s.Key, Time: t, RunID: runID,
		Upstream: s.Deps, Metadata: asset.Metadata{
			asset.RowCountKey: asset.Int(rowCount(s.Key, t)),
			"duration_s":      asset.Float(duration),
			"uri":             asset.URL(location(s, t)),
		}}
	if slices.Contains(s.Kinds, "dbt") {
		ev.Metadata["dbt_model"] = asset.Text(strings.ReplaceAll(s.Key.Name(), "-", "_"))
	}
	if s.Partitions != nil && s.Partitions.Type == "hourly" {
		ev.Partition = t.Format("2006-01-02-15:00")
	}
	out := []asset.Event{ev}
	for _, c := range s.Checks {
		sev := c.Severity
		if sev == "" {
			sev = asset.SeverityError
		}
		out = append(out, asset.Event{ID: id + ":check:" + c.Name, Kind: asset.KindCheckResult, Asset: s.Key,
			Time: t.Add(time.Duration(duration * float64(time.Second))), RunID: runID,
			Check: &asset.CheckResult{Name: c.Name, Passed: rng.Float64() > 0.04, Severity: sev}})
	}
	return out
}

// rowCount grows steadily with a daily wave so row-count plots look real.
func rowCount(k asset.Key, t time.Time) int64 {
	h := fnv.New32a()
	h.Write([]byte(k))
	base := float64(10_000 + h.Sum32()%900_000)
	days := float64(t.Unix()) / 86400
	growth := 1 + 0.002*math.Mod(days, 3650)
	wave := 1 + 0.05*math.Sin(2*math.Pi*math.Mod(days, 1))
	return int64(base * growth * wave)
}

func runDuration(s asset.Spec, rng *rand.Rand) float64 {
	base := map[string]float64{"raw": 40, "staging": 90, "marts": 300, "ml": 1200}[s.Group]
	if base == 0 {
		base = 30
	}
	return math.Round(base*(0.8+0.4*rng.Float64())*10) / 10
}

func location(s asset.Spec, t time.Time) string {
	switch {
	case slices.Contains(s.Kinds, "s3"):
		return "s3://acme-lake/" + string(s.Key) + "/" + t.Format("dt=2006-01-02/hr=15")
	case slices.Contains(s.Kinds, "postgres"):
		return "postgres://shop-db.internal:5432/shop/" + s.Key.Name()
	default:
		return "snowflake://acme.eu-west-1/ANALYTICS/" + strings.ToUpper(strings.ReplaceAll(string(s.Key), "/", "."))
	}
}

func failureMessage(s asset.Spec) string {
	if s.Key == StaleAsset {
		return "CRM export: 401 Unauthorized (API token expired)"
	}
	return "warehouse: statement timeout after 1800s"
}
