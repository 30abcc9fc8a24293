package monitor

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/freshness"
)

// refHysteresis is the hysteresis as it was before the monitor kept raw
// data times only for results published AT_RISK: every raw result, every
// time. TestHysteresisMatchesReference holds the two to the same output.
type refHysteresis struct {
	hold    time.Duration
	last    map[asset.Key]freshness.State
	results map[asset.Key]freshness.Result
	raw     map[asset.Key]freshness.Result
	holds   map[asset.Key]hold
}

func (m *refHysteresis) hysteresis(now time.Time, raw freshness.Result) freshness.Result {
	k := raw.Key
	prevRaw, hadRaw := m.raw[k]
	m.raw[k] = raw
	pub, had := m.results[k]
	if !had {
		// After a restart: the state last recorded stands for the
		// published one, so a prediction alone does not enter AT_RISK
		// before it has held.
		if last, ok := m.last[k]; ok && last != freshness.AtRisk {
			pub, had = freshness.Result{State: last, DataTime: raw.DataTime}, true
		}
	}
	if m.hold < 0 || !had {
		delete(m.holds, k)
		return raw
	}
	risky := func(s freshness.State) bool { return s == freshness.AtRisk }
	soft := func(s freshness.State) bool {
		return s == freshness.Pass || s == freshness.Warn || s == freshness.AtRisk
	}
	entering := risky(raw.State) && !risky(pub.State) && soft(pub.State)
	leaving := risky(pub.State) && !risky(raw.State) && soft(raw.State) &&
		(!hadRaw || raw.DataTime.Equal(prevRaw.DataTime)) && raw.DataTime.Equal(pub.DataTime)
	if !entering && !leaving {
		delete(m.holds, k)
		return raw
	}
	h, ok := m.holds[k]
	if !ok || h.state != raw.State && risky(h.state) != risky(raw.State) {
		h = hold{state: raw.State, since: now, reason: pub.Reason}
		m.holds[k] = h
	}
	if now.Sub(h.since) >= m.hold {
		delete(m.holds, k)
		return raw
	}
	if entering {
		out := raw
		out.State = raw.Base
		out.PredictedCompletion = nil
		if out.State == freshness.Pass {
			out.RootCause = ""
		}
		out.Reason = raw.Reason + "; AT_RISK from " + fmtTime(h.since.Add(m.hold)) + " if the prediction holds"
		return out
	}
	out := pub
	out.Lag, out.EvaluatedAt = raw.Lag, raw.EvaluatedAt
	out.Reason = h.reason + "; " + asset.FormatDuration(m.hold) + " hysteresis: not at risk since " + fmtTime(h.since)
	return out
}

// TestHysteresisMatchesReference runs random sequences of raw results of
// one asset (states, data times, and the gaps between passes around the
// hold) through both and compares every published result.
func TestHysteresisMatchesReference(t *testing.T) {
	t.Parallel()
	states := []freshness.State{freshness.Pass, freshness.Warn, freshness.AtRisk, freshness.AtRisk, freshness.Fail, freshness.Unknown}
	for _, c := range []struct {
		name string
		hold time.Duration
		last bool // a state recorded before a restart
	}{{"a minute", time.Minute, false}, {"a minute, after a restart", time.Minute, true}, {"none", -1, false}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			for seed := range uint64(200) {
				rng := rand.New(rand.NewPCG(seed, 7))
				m := New(nil, nil, Options{Logger: quiet, RiskHold: c.hold})
				ref := &refHysteresis{hold: c.hold, last: map[asset.Key]freshness.State{}, results: map[asset.Key]freshness.Result{},
					raw: map[asset.Key]freshness.Result{}, holds: map[asset.Key]hold{}}
				if c.last {
					st := states[rng.IntN(len(states))]
					m.last["a"], ref.last["a"] = st, st
				}
				now := t0
				for step := range 60 {
					now = now.Add(time.Duration(rng.IntN(50)) * time.Second)
					raw := freshness.Result{Key: "a", State: states[rng.IntN(len(states))], EvaluatedAt: now,
						DataTime: t0.Add(time.Duration(rng.IntN(3)) * time.Hour), Reason: "r", Lag: time.Duration(step)}
					raw.Base = raw.State
					if raw.State == freshness.AtRisk {
						raw.Base = []freshness.State{freshness.Pass, freshness.Warn}[rng.IntN(2)]
					}
					got, want := m.hysteresis(now, raw), ref.hysteresis(now, raw)
					if got.State != want.State || got.Reason != want.Reason || !got.DataTime.Equal(want.DataTime) || got.Lag != want.Lag {
						t.Fatalf("seed %d step %d: raw %s: published %s %q, want %s %q", seed, step, raw.State, got.State, got.Reason, want.State, want.Reason)
					}
					m.results["a"], ref.results["a"] = got, want
				}
			}
		})
	}
}
