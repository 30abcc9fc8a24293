package freshness

import (
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// Status is what an evaluation knows about one asset: the asset being
// evaluated, or one link of its upstream chain. The Evaluator fills it from
// an AssetState and the resolved data time; tests can write it by hand.
type Status struct {
	Key asset.Key
	// HasData is false until the asset has a success with a known data
	// time (see UnknownBecause).
	HasData bool
	// DataTime is the data time of the latest success (see docs/freshness.md).
	DataTime time.Time
	// LastSuccess is the time of the latest success, also when its data
	// time is unknown.
	LastSuccess time.Time
	// UnknownBecause, when the asset has a success but no data time, names
	// the dependency that makes it unknown: it had no success at or before
	// the run (of this asset or of an ancestor) that needed it.
	// UnknownNever says it never had any.
	UnknownBecause asset.Key
	UnknownNever   bool
	// Since starts an UNKNOWN asset's grace period: its first
	// materialization, or, if it has none, when it was first seen. Zero:
	// not started.
	Since time.Time
	// LastFailure is the latest materialization_failed, zero if none.
	LastFailure time.Time
	// RunEstimate is the p50 of recent run durations, zero when unknown.
	RunEstimate    time.Duration
	Materializable bool
	// RunStarted is the start of the asset's latest run in flight, zero
	// if none.
	RunStarted time.Time
	// Cadence is the median interval between recent successes and
	// NextArrival the latest success plus it: when the next success is
	// expected at the asset's usual pace. Zero when unknown.
	Cadence     time.Duration
	NextArrival time.Time
	// PartitionPeriod is the window of a time-partitioned asset (24h
	// daily, 1h hourly), zero otherwise: its DataTime is the end of its
	// latest contiguous filled window, and a partition is due once its
	// window ended more than max_lag ago.
	PartitionPeriod time.Duration
	// MissingPartitions, for a partitioned asset without a data time,
	// names the partitions missing: the first window (time partitions) or
	// the listed partitions never materialized (static).
	MissingPartitions string
}

// Chain is an asset's limiting upstream chain, nearest first: At(0) is the
// dependency of its latest success with the oldest data time, At(1) is that
// asset's oldest dependency, and so on to a root. Only assets with data are
// links; ok is false past the end. It is the "upstream states" half of
// Evaluate's input: following the oldest dependency is what makes the root
// cause the asset that actually holds this one's data back.
type Chain interface {
	At(i int) (s Status, ok bool)
}

// Statuses is a Chain held in a slice.
type Statuses []Status

// At returns the i-th link.
func (c Statuses) At(i int) (Status, bool) {
	if i < 0 || i >= len(c) {
		return Status{}, false
	}
	return c[i], true
}

// Evaluate decides one asset's freshness. It is a pure function of its
// arguments (the chain is read, never kept), so it can be tested with a fake
// clock; the Evaluator calls it for every asset with a policy.
//
//   - UNKNOWN: no success yet, or the latest success's data time is
//     unknown (a dependency never materialized before it was built); root
//     cause that dependency. FAIL once the grace period (max_lag; for a
//     cron policy without max_lag, until the first tick) since Since is over.
//   - max_lag: lag = now - data time; FAIL when lag > max_lag, WARN when
//     lag > warn_after, else PASS. Exactly at a limit is within it.
//   - cron: at the most recent tick T <= now the data must be as of
//     T - max_lag (data time >= T - max_lag), else FAIL.
//   - AT_RISK: not failing, and the predicted landing (a run in flight,
//     a rebuild Freshet can start, the cadence of recent successes; through
//     the chain's stale links when they hold it back) is after the deadline.
//   - partitioned assets: the data time is the partitions' (partition.go);
//     a time partition is due once its window ended more than max_lag ago.
//   - RootCause: walk the chain while each link's data time is older than
//     what this asset needs (for FAIL: to pass max_lag or the last tick; for
//     WARN: to pass warn_after; for AT_RISK: to move past the deadline); the
//     last such link, or the asset itself.
func Evaluate(p *Policy, now time.Time, self Status, up Chain) Result {
	tc := tickCache{now: now}
	var res Result
	evaluate(&res, p, now, &self, up, &tc, nil)
	return res
}

// need is a data-time requirement: a link is stale for it when its data time
// is before at (or not after at, when inclusive).
type need struct {
	at        time.Time
	inclusive bool
}

func (n need) stale(dt time.Time) bool {
	if n.inclusive {
		return !dt.After(n.at)
	}
	return dt.Before(n.at)
}

// walk follows the chain while links are stale for n. It sets last to the
// last stale link (ok false when the first link is fresh or there is
// none), and returns the sum and count of run estimates of materializable
// stale links.
func walk(up Chain, n need, last *Status) (ok bool, cost time.Duration, count int) {
	switch c := up.(type) {
	case nil:
		return false, 0, 0
	case *chainView:
		return c.walk(n, last) // the same walk without building a Status per link
	}
	for i := 0; ; i++ {
		s, more := up.At(i)
		if !more || !s.HasData || !n.stale(s.DataTime) {
			return ok, cost, count
		}
		*last, ok = s, true
		if s.Materializable && s.RunEstimate > 0 {
			cost += s.RunEstimate
			count++
		}
	}
}

// evaluate is Evaluate into res, with the pass's tick cache and a reusable
// buffer for the reason, which it returns (grown) for the next call. The
// Evaluator passes its result slot and status by pointer: a pass over a
// large graph should not copy them around.
func evaluate(res *Result, p *Policy, now time.Time, self *Status, up Chain, tc *tickCache, buf []byte) []byte {
	*res = Result{Key: self.Key, EvaluatedAt: now}
	why := reason{b: buf[:0]}
	if !self.HasData {
		unknown(res, &why, p, now, self)
		res.Base = res.State
		return why.b
	}
	res.DataTime = self.DataTime
	lag := now.Sub(self.DataTime)
	res.Lag = max(lag, 0)
	spec := p.spec
	// due is the data time the policy compares: for a time-partitioned
	// asset, the end of its first missing window (a partition is due once
	// its window ended more than max_lag ago); else the data time itself.
	due := self.DataTime.Add(self.PartitionPeriod)
	dueLag := now.Sub(due)

	var required, riskNeed need // what PASS needs now; what moving past the deadline needs
	if p.sched == nil {
		res.Deadline = due.Add(spec.MaxLag)
		riskNeed = need{at: self.DataTime, inclusive: true}
		why.str("data is ").dur(res.Lag).str(" old")
		partitionNote(&why, self, false)
		switch {
		case dueLag > spec.MaxLag:
			res.State = Fail
			required = need{at: now.Add(-spec.MaxLag)}
			why.str(", over max_lag ").dur(spec.MaxLag)
			partitionNote(&why, self, true)
		case spec.WarnAfter > 0 && dueLag > spec.WarnAfter:
			res.State = Warn
			required = need{at: now.Add(-spec.WarnAfter)}
			why.str(", over warn_after ").dur(spec.WarnAfter).str(" (max_lag ").dur(spec.MaxLag).str(")")
		default:
			res.State = Pass
			why.str(" (max_lag ").dur(spec.MaxLag)
			if spec.WarnAfter > 0 {
				why.str(", warn_after ").dur(spec.WarnAfter)
			}
			why.str(")")
		}
	} else {
		s := p.sched
		why.str("data is ").dur(res.Lag).str(" old")
		partitionNote(&why, self, false)
		tick := tc.prevTick(s)
		if !tick.IsZero() && due.Before(tick.Add(-p.lagAt(tc, tick))) {
			res.State = Fail
			res.Deadline = tick
			required = need{at: tick.Add(-p.lagAt(tc, tick))}
			why.str(", missed the ").local(tick, s.loc).str(" deadline, which needs data as of ").time(required.at)
			partitionNote(&why, self, true)
		} else {
			res.State = Pass
			res.Deadline = tc.nextAfter(s, maxTime(now, p.horizon(tc, due)))
			if !res.Deadline.IsZero() {
				riskNeed = need{at: res.Deadline.Add(-p.lagAt(tc, res.Deadline))}
			}
			if !res.Deadline.IsZero() {
				why.str(", good until the ").local(res.Deadline, s.loc).str(" deadline")
			}
		}
		why.str(" (cron \"").str(s.expr).str("\" ").str(s.loc.String()).str(", ").str(p.lagString()).str(")")
	}
	if self.PartitionPeriod > 0 {
		// The missing partition needs data through its window's end.
		required = need{at: due}
		riskNeed = need{at: due}
	}

	res.Base = res.State
	if res.State == Pass || res.State == Warn {
		checkAtRisk(res, &why, now, self, up, riskNeed)
	}
	if res.State == Warn || res.State == Fail {
		res.RootCause = self.Key
		var last Status
		if stale, _, _ := walk(up, required, &last); stale {
			res.RootCause = last.Key
			why.str("; root cause ").str(string(last.Key)).str(" (data is ").dur(max(now.Sub(last.DataTime), 0)).str(" old)")
		} else if hasLink(up) {
			why.str("; its upstream is newer, a rebuild would catch up")
		}
	}
	if self.LastFailure.After(self.LastSuccess) {
		why.str("; latest materialization failed at ").time(self.LastFailure).str(", data is from the success at ").time(self.LastSuccess)
	}
	res.Reason = why.String()
	return why.b
}

// partitionNote says which partitions a time-partitioned asset's data
// time stands for, and, when it fails, which one is missing.
func partitionNote(why *reason, self *Status, failed bool) {
	if self.PartitionPeriod <= 0 {
		return
	}
	p := int64(self.PartitionPeriod)
	end := self.DataTime.UnixNano()
	if failed {
		why.str("; partition ").str(partitionKey(p, end)).str(" is missing")
		return
	}
	why.str(", partitions complete through ").str(partitionKey(p, end-p))
}

func hasLink(up Chain) bool {
	if up == nil {
		return false
	}
	s, ok := up.At(0)
	return ok && s.HasData
}

// arrival is when the asset's next success is expected, earliest, and on
// what basis (docs/freshness.md, "AT_RISK"):
//   - a run in flight that is not late: its start plus the run estimate;
//   - else, when Freshet can start it (materializable): now plus the run
//     estimate (a rebuild started now; now when the estimate is unknown);
//   - else its usual cadence, when that is still ahead;
//   - else, with a run estimate, now plus it (a run started now);
//   - else nothing is known: now.
//
// external leaves out the last rule, for a link that is not the asset
// being evaluated: when it runs is not known, only that it has to.
func arrival(s *Status, now time.Time, external bool) (time.Time, arrivalBasis) {
	if !s.RunStarted.IsZero() && s.RunEstimate > 0 {
		if end := s.RunStarted.Add(s.RunEstimate); !end.Before(now) {
			return end, byRun
		}
	}
	switch {
	case s.Materializable:
		return now.Add(s.RunEstimate), byRebuild
	case !s.NextArrival.IsZero() && !s.NextArrival.Before(now):
		return s.NextArrival, byCadence
	case s.RunEstimate > 0 && !external:
		return now.Add(s.RunEstimate), byRunNow
	}
	return now, byNothing
}

type arrivalBasis uint8

const (
	byNothing arrivalBasis = iota
	byRun
	byRebuild
	byCadence
	byRunNow
)

// checkAtRisk turns PASS or WARN into AT_RISK when the asset's next
// success is predicted to land after the deadline, from what is known:
// runs in flight, run estimates, the cadence of recent successes, and
// which stale ancestors Freshet can rebuild.
//
// When links of the limiting chain are too old to move the asset past the
// deadline (a rebuild of the asset alone would not help), the prediction
// starts at the last such link L (the root cause): it arrives (arrival;
// a link without a materialize command must deliver new data itself, no
// earlier than now), then the materializable stale links below it and the
// asset itself run, each for its run estimate (parallel branches are
// assumed to run concurrently). Otherwise it is the asset's own arrival.
// A prediction exactly at the deadline is in time.
func checkAtRisk(res *Result, why *reason, now time.Time, self *Status, up Chain, n need) {
	if res.Deadline.IsZero() {
		return
	}
	own, basis := arrival(self, now, false)
	if c, ok := up.(*chainView); ok && !own.After(res.Deadline) && !c.bound(now).Add(self.RunEstimate).After(res.Deadline) {
		return // whatever the chain holds, it lands in time: skip the walk
	}
	var last Status
	stale, cost, count := walk(up, n, &last)
	done := own
	var from time.Time
	var fromBasis arrivalBasis
	if stale {
		from, fromBasis = arrival(&last, now, true)
		from = maxTime(from, now)
		if last.Materializable && last.RunEstimate > 0 {
			cost -= last.RunEstimate // counted in its arrival
			count--
		}
		done = from.Add(cost + self.RunEstimate)
	}
	if !done.After(res.Deadline) {
		return
	}
	res.State = AtRisk
	predicted := done // a copy declared here, so only AT_RISK results pay its allocation
	res.PredictedCompletion = &predicted
	res.RootCause = self.Key
	why.str("; at risk: ")
	if !stale {
		switch basis {
		case byRun:
			why.str("its run started at ").time(self.RunStarted).str(" is expected to finish at ").time(done)
		case byRebuild:
			why.str("a rebuild started now would finish at ").time(done)
		case byCadence:
			why.str("at its usual cadence (every ").dur(self.Cadence).str(") the next success is expected at ").time(done)
		default:
			why.str("even a run started now would finish at ").time(done)
		}
		why.str(", after the deadline ").time(res.Deadline)
		return
	}
	res.RootCause = last.Key
	switch {
	case last.Materializable && fromBasis == byRun:
		why.str("the run of ").str(string(last.Key)).str(" started at ").time(last.RunStarted).str(" is expected at ").time(from).str(", then rebuilding")
		if count > 0 {
			why.str(" (with ").int(count).str(" stale upstream)")
		}
		why.str(" would finish at ").time(done)
	case last.Materializable:
		why.str("a rebuild started now (with ").int(count + 1).str(" stale upstream) would finish at ").time(done)
	default:
		why.str(string(last.Key)).str(" cannot be rebuilt here (no materialize command) and must deliver new data")
		switch fromBasis {
		case byRun:
			why.str(" (its run started at ").time(last.RunStarted).str(" is expected at ").time(from).str(")")
		case byCadence:
			why.str(" (expected at ").time(from).str(" at its usual cadence)")
		}
		why.str("; then this asset")
		if count > 0 {
			why.str(" (with ").int(count).str(" stale upstream)")
		}
		why.str(" would land at ").time(done).str(" at the earliest")
	}
	why.str(", after the deadline ").time(res.Deadline).str("; root cause ").str(string(last.Key))
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// unknown fills the result of an asset without a data time: UNKNOWN, and
// FAIL once its grace period is over, so that a pipeline that never ran
// pages like a stale one.
func unknown(res *Result, why *reason, p *Policy, now time.Time, self *Status) {
	res.State = Unknown
	res.RootCause = self.Key
	switch {
	case self.MissingPartitions != "":
		why.str("data time unknown: partition ").str(self.MissingPartitions).str(" never materialized")
	case self.UnknownBecause == "":
		why.str("never materialized")
	case self.UnknownNever:
		res.RootCause = self.UnknownBecause
		why.str("data time unknown: built from ").str(string(self.UnknownBecause)).str(", which never materialized")
	default:
		res.RootCause = self.UnknownBecause
		why.str("data time unknown: built before ").str(string(self.UnknownBecause)).str(" had any success; a rebuild would catch up")
	}
	if !self.Since.IsZero() {
		if end := p.graceEnd(self.Since); end.After(self.Since) {
			res.Deadline = end
			if now.After(end) {
				res.State = Fail
				why.str("; over the grace period: unknown since ").time(self.Since)
			}
		}
	}
	if !self.LastFailure.IsZero() {
		why.str("; latest materialization failed at ").time(self.LastFailure)
	}
	res.Reason = why.String()
}
