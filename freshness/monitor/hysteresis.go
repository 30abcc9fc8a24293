package monitor

import (
	"time"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/freshness"
)

// AT_RISK hysteresis. AT_RISK is a prediction, and predictions near a
// deadline jitter (an estimate moves by a few seconds, a run starts a
// little late), so a prediction alone must hold for Options.RiskHold
// (default a minute) before the published state enters or leaves AT_RISK:
//   - entering: PASS/WARN -> AT_RISK once the raw result has been AT_RISK
//     in every pass for RiskHold; meanwhile the published result is the
//     raw one with its state before the prediction (Result.Base);
//   - leaving: AT_RISK -> PASS/WARN once the raw result has not been
//     AT_RISK for RiskHold; meanwhile the published result stays AT_RISK
//     (the previous prediction, with the lag brought up to date);
//   - no wait when new data landed (the data time moved: the prediction
//     was about that arrival), or to or from FAIL and UNKNOWN.
//
// The timer is in memory: a restart starts it again.

type hold struct {
	state  freshness.State // the raw state waiting to be published
	since  time.Time
	reason string // leaving: the AT_RISK reason still published
}

// hysteresis returns the result to publish for raw. Called with mu held
// (m.last), from Run's goroutine (results, raw, holds).
//
// m.raw holds exactly the assets whose published result is AT_RISK, with
// their raw data time (read when leaving AT_RISK): a raw result that is
// not AT_RISK, of an asset not published AT_RISK, is published as it is
// without a lookup, the usual case when nothing is at risk.
func (m *Monitor) hysteresis(now time.Time, raw freshness.Result) freshness.Result {
	var out freshness.Result
	if raw.State != freshness.AtRisk && !m.publishedAtRisk(raw.Key) {
		m.dropHold(raw.Key) // neither entering nor leaving AT_RISK
		out = raw
	} else {
		out = m.riskHold(now, raw)
	}
	if out.State == freshness.AtRisk {
		m.raw[raw.Key] = raw.DataTime
	} else if len(m.raw) > 0 {
		delete(m.raw, raw.Key)
	}
	return out
}

func (m *Monitor) publishedAtRisk(k asset.Key) bool {
	if len(m.raw) == 0 {
		return false
	}
	_, ok := m.raw[k]
	return ok
}

// sameRaw reports whether the previous evaluation of k (raw, before
// hysteresis) had data time dt, or there is none.
func (m *Monitor) sameRaw(k asset.Key, dt time.Time) bool {
	prev, ok := m.raw[k]
	return !ok || dt.Equal(prev)
}

func (m *Monitor) riskHold(now time.Time, raw freshness.Result) freshness.Result {
	k := raw.Key
	pub, had := m.results[k]
	if !had {
		// After a restart: the state last recorded stands for the
		// published one, so a prediction alone does not enter AT_RISK
		// before it has held.
		if last, ok := m.last[k]; ok && last != freshness.AtRisk {
			pub, had = freshness.Result{State: last, DataTime: raw.DataTime}, true
		}
	}
	if m.opts.RiskHold < 0 || !had {
		m.dropHold(k)
		return raw
	}
	risky := func(s freshness.State) bool { return s == freshness.AtRisk }
	soft := func(s freshness.State) bool {
		return s == freshness.Pass || s == freshness.Warn || s == freshness.AtRisk
	}
	entering := risky(raw.State) && !risky(pub.State) && soft(pub.State)
	leaving := risky(pub.State) && !risky(raw.State) && soft(raw.State) &&
		raw.DataTime.Equal(pub.DataTime) && m.sameRaw(k, raw.DataTime)
	if !entering && !leaving {
		m.dropHold(k)
		return raw
	}
	h, ok := m.holds[k]
	if !ok || h.state != raw.State && risky(h.state) != risky(raw.State) {
		h = hold{state: raw.State, since: now, reason: pub.Reason}
		m.holds[k] = h
	}
	if now.Sub(h.since) >= m.opts.RiskHold {
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
		out.Reason = raw.Reason + "; AT_RISK from " + fmtTime(h.since.Add(m.opts.RiskHold)) + " if the prediction holds"
		return out
	}
	out := pub
	out.Lag, out.EvaluatedAt = raw.Lag, raw.EvaluatedAt
	out.Reason = h.reason + "; " + asset.FormatDuration(m.opts.RiskHold) + " hysteresis: not at risk since " + fmtTime(h.since)
	return out
}

// dropHold forgets k's hold; holds are rare, and a delete from an empty
// map still hashes the key.
func (m *Monitor) dropHold(k asset.Key) {
	if len(m.holds) > 0 {
		delete(m.holds, k)
	}
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }
