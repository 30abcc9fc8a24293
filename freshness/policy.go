package freshness

import (
	"errors"
	"fmt"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// ErrInvalidPolicy is wrapped by every CompilePolicy error, so callers can
// tell a bad policy from other failures with errors.Is.
var ErrInvalidPolicy = errors.New("invalid freshness policy")

// Policy is a validated asset.FreshnessPolicy, with its cron expression
// parsed and its time zone loaded once rather than on every evaluation.
// A Policy is immutable and safe to share.
type Policy struct {
	spec  asset.FreshnessPolicy
	sched *schedule // nil for a max_lag policy
}

// MinDuration is the least max_lag, warn_after or grace a policy takes
// (0, for warn_after and grace, means none).
const MinDuration = time.Second

// MinCronLag is the least max_lag a cron policy takes. Data "as of the
// deadline itself" cannot be met by any run that takes time, so a smaller
// value is a mistake, not an SLA.
const MinCronLag = time.Minute

// CompilePolicy validates p (the one rule config, the CLI and the API share):
//   - a max_lag policy needs max_lag > 0 and, if set, 0 < warn_after < max_lag;
//   - a cron policy needs a five-field (or @daily-style) expression that fires,
//     a loadable timezone (default UTC) and either no max_lag (the default:
//     at each tick, data from after the previous tick) or max_lag >= 1m;
//     warn_after does not apply to it (its early warning is AT_RISK);
//   - timezone without cron is an error rather than silently ignored;
//   - grace, if set, is positive (0 means the default, max_lag).
func CompilePolicy(p asset.FreshnessPolicy) (*Policy, error) {
	if p.MaxLag < 0 {
		return nil, fmt.Errorf("%w: max_lag %s is negative", ErrInvalidPolicy, p.MaxLag)
	}
	if p.Grace < 0 {
		return nil, fmt.Errorf("%w: grace %s is negative", ErrInvalidPolicy, p.Grace)
	}
	if p.WarnAfter < 0 {
		return nil, fmt.Errorf("%w: warn_after %s is negative", ErrInvalidPolicy, p.WarnAfter)
	}
	for _, d := range [...]struct {
		name string
		v    time.Duration
	}{{"max_lag", p.MaxLag}, {"warn_after", p.WarnAfter}, {"grace", p.Grace}} {
		if d.v > 0 && d.v < MinDuration {
			return nil, fmt.Errorf("%w: %s %s is less than %s: freshness is judged in seconds at best, and such a policy would flap on every event",
				ErrInvalidPolicy, d.name, d.v, fmtDuration(MinDuration))
		}
	}
	if p.Cron == "" {
		if p.Timezone != "" {
			return nil, fmt.Errorf("%w: timezone %q is set but cron is not", ErrInvalidPolicy, p.Timezone)
		}
		if p.MaxLag == 0 {
			return nil, fmt.Errorf("%w: max_lag is required", ErrInvalidPolicy)
		}
		if p.WarnAfter != 0 && p.WarnAfter >= p.MaxLag {
			return nil, fmt.Errorf("%w: warn_after %s must be less than max_lag %s", ErrInvalidPolicy, fmtDuration(p.WarnAfter), fmtDuration(p.MaxLag))
		}
		return &Policy{spec: p}, nil
	}
	if p.WarnAfter != 0 {
		return nil, fmt.Errorf("%w: warn_after applies to max_lag policies, not to cron deadlines", ErrInvalidPolicy)
	}
	if p.MaxLag != 0 && p.MaxLag < MinCronLag {
		return nil, fmt.Errorf("%w: max_lag %s is too small for a cron deadline: use at least %s, or leave it out to require data from after the previous tick",
			ErrInvalidPolicy, fmtDuration(p.MaxLag), fmtDuration(MinCronLag))
	}
	s, err := newSchedule(p.Cron, p.Timezone)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidPolicy, err)
	}
	return &Policy{spec: p, sched: s}, nil
}

// MustCompilePolicy is CompilePolicy for tests and constants; it panics on error.
func MustCompilePolicy(p asset.FreshnessPolicy) *Policy {
	c, err := CompilePolicy(p)
	if err != nil {
		panic(err)
	}
	return c
}

// Spec returns the policy as written.
func (p *Policy) Spec() asset.FreshnessPolicy { return p.spec }

// MaxLag is the policy's max_lag.
func (p *Policy) MaxLag() time.Duration { return p.spec.MaxLag }

// IsCron reports whether the policy is a cron deadline.
func (p *Policy) IsCron() bool { return p.sched != nil }

// lagAt is the max_lag a cron policy holds tick to: the one written, or
// by default the interval back to the previous tick, so that each tick
// needs data from after the one before.
func (p *Policy) lagAt(tc *tickCache, tick time.Time) time.Duration {
	if p.spec.MaxLag > 0 {
		return p.spec.MaxLag
	}
	return tc.interval(p.sched, tick)
}

// horizon is the latest tick that data as of dataTime satisfies is at or
// before: dataTime + max_lag, or by default the first tick after dataTime
// (its successor is the first that needs newer data).
func (p *Policy) horizon(tc *tickCache, dataTime time.Time) time.Time {
	if p.spec.MaxLag > 0 {
		return dataTime.Add(p.spec.MaxLag)
	}
	if n := p.sched.next(dataTime); !n.IsZero() {
		return n
	}
	return dataTime
}

// graceEnd is when an asset UNKNOWN since since turns FAIL: grace after
// it, by default max_lag (for a cron policy without one, the first tick
// after since, as for data as of since).
func (p *Policy) graceEnd(since time.Time) time.Time {
	if p.spec.Grace > 0 {
		return since.Add(p.spec.Grace)
	}
	return p.horizon(nil, since)
}

// lagString is how reasons quote a cron policy's max_lag.
func (p *Policy) lagString() string {
	if p.spec.MaxLag > 0 {
		return "max_lag " + fmtDuration(p.spec.MaxLag)
	}
	return "data from after the previous tick"
}

// String describes the policy the way reasons quote it.
func (p *Policy) String() string {
	if p.spec.Grace > 0 {
		return p.describe() + ", grace " + fmtDuration(p.spec.Grace)
	}
	return p.describe()
}

func (p *Policy) describe() string {
	if p.sched != nil {
		return fmt.Sprintf("%s, %s", p.sched, p.lagString())
	}
	if p.spec.WarnAfter > 0 {
		return fmt.Sprintf("max_lag %s, warn_after %s", fmtDuration(p.spec.MaxLag), fmtDuration(p.spec.WarnAfter))
	}
	return "max_lag " + fmtDuration(p.spec.MaxLag)
}
