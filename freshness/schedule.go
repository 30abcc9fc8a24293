package freshness

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// schedule is a cron expression read as wall-clock times in a time zone.
//
// robfig/cron parses the expression and matches its fields; the mapping from
// wall-clock ticks to instants is ours, because cron's own Next steps in
// absolute time and so drops a tick that falls in the hour skipped by a
// spring-forward and fires twice in the hour repeated by a fall-back. For an
// SLA both are wrong: the 02:30 deadline still exists on the day the clocks
// jump, and it is one deadline, not two, on the day they fall back.
//
// The rule: a tick at wall time C happens at the first instant at which the
// zone's clock reads C or later. So a tick in a skipped hour happens at the
// jump (02:30 Europe/Paris on the last Sunday of March happens at 03:00
// CEST), a tick in a repeated hour happens at its first occurrence, and
// several ticks that collapse onto one instant count once.
type schedule struct {
	expr  string
	loc   *time.Location
	spec  *cron.SpecSchedule // Location UTC: it runs over wall-clock times encoded as UTC
	civil bool               // loc has offsets other than UTC's; when false wall time is UTC
}

func newSchedule(expr, tz string) (*schedule, error) {
	expr = strings.TrimSpace(expr)
	if strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ=") {
		return nil, fmt.Errorf("cron %q: set the time zone in timezone, not in the expression", expr)
	}
	if strings.HasPrefix(expr, "@every") {
		return nil, fmt.Errorf("cron %q: @every has no wall-clock ticks to hold a deadline to; use max_lag", expr)
	}
	// Standard five fields (minute granularity) plus @daily and friends.
	parser := cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
	parsed, err := parser.Parse(expr)
	if err != nil {
		return nil, fmt.Errorf("cron %q: %w", expr, err)
	}
	spec, ok := parsed.(*cron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("cron %q: not a wall-clock schedule", expr)
	}
	spec.Location = time.UTC
	if tz == "" {
		tz = "UTC"
	}
	if tz == "Local" {
		// Deadlines must not move with the host the server runs on.
		return nil, fmt.Errorf("timezone %q: name a zone such as Europe/Paris (Local depends on the host)", tz)
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("timezone %q: %w", tz, err)
	}
	// robfig/cron gives up after five years: "0 0 30 2 *" never fires.
	if spec.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return nil, fmt.Errorf("cron %q never fires", expr)
	}
	return &schedule{expr: expr, loc: loc, spec: spec, civil: loc != time.UTC}, nil
}

// wall returns t's wall-clock reading in the schedule's zone, encoded as a
// UTC time with the same fields, so that wall times compare and step without
// any DST arithmetic.
func (s *schedule) wall(t time.Time) time.Time {
	if !s.civil {
		return t.UTC()
	}
	_, off := t.In(s.loc).Zone()
	return t.UTC().Add(time.Duration(off) * time.Second)
}

// maxWall is the latest wall-clock reading at or before t. It differs from
// wall(t) only in the hour after a fall-back, when the clock reads less than
// it already did.
func (s *schedule) maxWall(t time.Time) time.Time {
	w := s.wall(t)
	if !s.civil {
		return w
	}
	start, _ := t.In(s.loc).ZoneBounds()
	if start.IsZero() {
		return w
	}
	if before := s.wall(start.Add(-time.Nanosecond)); before.After(w) {
		return before
	}
	return w
}

// instant is the first instant at which the zone's clock reads c or later.
func (s *schedule) instant(c time.Time) time.Time {
	if !s.civil {
		return c
	}
	t := time.Date(c.Year(), c.Month(), c.Day(), c.Hour(), c.Minute(), c.Second(), c.Nanosecond(), s.loc)
	switch w := s.wall(t); {
	case w.Equal(c):
		// c may exist twice (fall-back): Go may have picked the second one.
		start, _ := t.ZoneBounds()
		if start.IsZero() {
			return t
		}
		_, offNow := t.Zone()
		_, offBefore := start.Add(-time.Nanosecond).Zone()
		if d := offBefore - offNow; d > 0 {
			if e := t.Add(-time.Duration(d) * time.Second); e.Before(start) && s.wall(e).Equal(c) {
				return e
			}
		}
		return t
	case w.After(c):
		// c is in a gap and Go normalised forward: the clock first reads
		// c or later at the transition that opened the current zone.
		start, _ := t.ZoneBounds()
		if start.IsZero() {
			return t
		}
		return start
	default:
		// c is in a gap and Go normalised backward: the transition that
		// closes t's zone is the first instant past c.
		_, end := t.ZoneBounds()
		if end.IsZero() {
			return t
		}
		return end
	}
}

// prevWindows are the look-back spans tried in turn to find the last tick; a
// schedule firing every minute is found in the first, a yearly one in the fifth.
var prevWindows = [...]time.Duration{2 * time.Minute, time.Hour, 26 * time.Hour, 32 * 24 * time.Hour, 367 * 24 * time.Hour, 5*366*24*time.Hour + 24*time.Hour}

// prevWall is the latest wall-clock tick at or before w, zero if none within five years.
func (s *schedule) prevWall(w time.Time) time.Time {
	for _, span := range prevWindows {
		var last time.Time
		for c := s.spec.Next(w.Add(-span - time.Nanosecond)); !c.IsZero() && !c.After(w); c = s.spec.Next(c) {
			last = c
		}
		if !last.IsZero() {
			return last
		}
	}
	return time.Time{}
}

// prev is the most recent tick at or before t, zero if none in five years.
func (s *schedule) prev(t time.Time) time.Time {
	c := s.prevWall(s.maxWall(t))
	if c.IsZero() {
		return c
	}
	return s.instant(c)
}

// next is the first tick strictly after t, zero if none in five years.
func (s *schedule) next(t time.Time) time.Time {
	c := s.spec.Next(s.maxWall(t))
	for i := 0; !c.IsZero() && i < 4; i++ {
		// Ticks in a skipped hour collapse onto the jump; step past any
		// that land on or before t.
		if at := s.instant(c); at.After(t) {
			return at
		}
		c = s.spec.Next(c)
	}
	if c.IsZero() {
		return c
	}
	return s.instant(c)
}

// String is the schedule as written in a policy.
func (s *schedule) String() string { return fmt.Sprintf("cron %q %s", s.expr, s.loc) }

// tickCache memoises prev(now) and the next ticks after now for one
// schedule during one evaluation pass, so that the thousands of assets that
// share a schedule do not each search the calendar.
type tickCache struct {
	now      time.Time
	prev     time.Time
	havePrev bool
	upcoming []time.Time // ticks after now, in order
	// The interval before each tick asked about (the default max_lag):
	// prev(now) and the next deadline, shared by every asset on the schedule.
	intervals map[int64]time.Duration
}

// maxCachedTicks bounds the upcoming ticks kept per schedule; deadlines
// further out are computed directly.
const maxCachedTicks = 64

func (c *tickCache) prevTick(s *schedule) time.Time {
	if !c.havePrev {
		c.prev, c.havePrev = s.prev(c.now), true
	}
	return c.prev
}

// interval is the time from the tick before tick to tick itself; a
// schedule with no earlier tick in five years gives five years.
func (c *tickCache) interval(s *schedule, tick time.Time) time.Duration {
	key := tick.UnixNano()
	if d, ok := c.intervals[key]; ok {
		return d
	}
	d := 5 * 365 * 24 * time.Hour
	if before := s.prev(tick.Add(-time.Nanosecond)); !before.IsZero() {
		d = tick.Sub(before)
	}
	if c.intervals == nil {
		c.intervals = make(map[int64]time.Duration)
	}
	c.intervals[key] = d
	return d
}

// nextAfter is the first tick strictly after t, for t at or after c.now.
func (c *tickCache) nextAfter(s *schedule, t time.Time) time.Time {
	if len(c.upcoming) == 0 {
		c.upcoming = append(c.upcoming, s.next(c.now))
	}
	for {
		last := c.upcoming[len(c.upcoming)-1]
		if last.IsZero() || last.After(t) {
			break
		}
		if len(c.upcoming) >= maxCachedTicks {
			return s.next(t)
		}
		c.upcoming = append(c.upcoming, s.next(last))
	}
	for _, u := range c.upcoming {
		if u.IsZero() || u.After(t) {
			return u
		}
	}
	return time.Time{}
}
