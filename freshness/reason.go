package freshness

import (
	"strconv"
	"time"
)

// reason builds a Result's Reason by appending to a buffer the Evaluator
// reuses across assets, so a pass over a large graph spends one allocation
// per result on it (the final string) rather than one per fmt call.
type reason struct {
	b []byte
}

func (r *reason) str(s string) *reason { r.b = append(r.b, s...); return r }

func (r *reason) dur(d time.Duration) *reason { r.b = appendDuration(r.b, d); return r }

func (r *reason) int(n int) *reason { r.b = strconv.AppendInt(r.b, int64(n), 10); return r }

// time writes t in UTC, to the minute when it has no seconds.
func (r *reason) time(t time.Time) *reason { r.b = appendTime(r.b, t); return r }

// local writes t in loc with the zone's abbreviation: cron deadlines read
// best in the zone they were written for.
func (r *reason) local(t time.Time, loc *time.Location) *reason {
	r.b = t.In(loc).AppendFormat(r.b, "2006-01-02 15:04 MST")
	return r
}

func (r *reason) String() string { return string(r.b) }

func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	if t.Second() == 0 && t.Nanosecond() == 0 {
		return t.AppendFormat(b, "2006-01-02T15:04Z")
	}
	return t.AppendFormat(b, "2006-01-02T15:04:05Z")
}

// appendDuration writes d rounded to the second with days: "2d3h", "6h30m",
// "45s", "0s". Lags of days read badly as "51h0m0s". Every result's reason
// has one or two, so it divides once per unit and writes small numbers
// without strconv.
func appendDuration(b []byte, d time.Duration) []byte {
	if d < 0 {
		b = append(b, '-')
		d = -d
	}
	d = d.Round(time.Second)
	if d == 0 {
		return append(b, "0s"...)
	}
	secs := int64(d / time.Second)
	days, rest := secs/86400, secs%86400
	b = appendUnit(b, days, 'd')
	b = appendUnit(b, rest/3600, 'h')
	b = appendUnit(b, rest%3600/60, 'm')
	return appendUnit(b, rest%60, 's')
}

// appendUnit writes n and the unit's letter when n is positive.
func appendUnit(b []byte, n int64, unit byte) []byte {
	switch {
	case n <= 0:
		return b
	case n < 10:
		return append(b, byte('0'+n), unit)
	case n < 100:
		return append(b, byte('0'+n/10), byte('0'+n%10), unit)
	}
	return append(strconv.AppendInt(b, n, 10), unit)
}

func fmtDuration(d time.Duration) string { return string(appendDuration(nil, d)) }
