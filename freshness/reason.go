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
// "45s", "0s". Lags of days read badly as "51h0m0s".
func appendDuration(b []byte, d time.Duration) []byte {
	if d < 0 {
		b = append(b, '-')
		d = -d
	}
	d = d.Round(time.Second)
	if d == 0 {
		return append(b, "0s"...)
	}
	units := [...]struct {
		size time.Duration
		name byte
	}{{24 * time.Hour, 'd'}, {time.Hour, 'h'}, {time.Minute, 'm'}, {time.Second, 's'}}
	for _, u := range units {
		if n := d / u.size; n > 0 {
			b = strconv.AppendInt(b, int64(n), 10)
			b = append(b, u.name)
			d -= n * u.size
		}
	}
	return b
}

func fmtDuration(d time.Duration) string { return string(appendDuration(nil, d)) }
