package openlineage

import (
	"strings"
	"time"
)

// parseTime reads an ISO 8601 date-time as producers write it, more
// leniently than RFC 3339 (which the schema asks for and not every
// client sends):
//
//   - 'T', 't' or a space between date and time (Python's str(datetime));
//   - any number of fractional digits, '.' or ',' (beyond nanoseconds
//     they are dropped: Java's and some databases' clocks write more);
//   - a zone of Z, ±hh:mm, ±hhmm or ±hh, or none at all, which means UTC
//     (Python's naive datetime.isoformat());
//   - a trailing region in brackets, "[Europe/Paris]", as Java's
//     ZonedDateTime.toString writes after the offset (ignored: the
//     offset says it all; without an offset the time is read as UTC).
//
// It returns the time in UTC, and false when s is none of these.
func parseTime(s string) (time.Time, bool) {
	if i := strings.IndexByte(s, '['); i > 0 && strings.HasSuffix(s, "]") {
		s = s[:i]
	}
	if len(s) < len("2006-01-02T15:04:05") {
		return time.Time{}, false
	}
	switch s[10] {
	case 'T', 't', ' ':
	default:
		return time.Time{}, false
	}
	t, err := time.ParseInLocation("2006-01-02T15:04:05", s[:10]+"T"+s[11:19], time.UTC)
	if err != nil {
		return time.Time{}, false
	}
	rest := s[19:]
	if rest != "" && (rest[0] == '.' || rest[0] == ',') {
		n, scale := 0, int64(100_000_000)
		var ns int64
		for n+1 < len(rest) && rest[n+1] >= '0' && rest[n+1] <= '9' {
			if scale > 0 {
				ns += int64(rest[n+1]-'0') * scale
				scale /= 10
			}
			n++
		}
		if n == 0 {
			return time.Time{}, false
		}
		t = t.Add(time.Duration(ns))
		rest = rest[n+1:]
	}
	switch {
	case rest == "" || rest == "Z" || rest == "z":
		return t, true
	case rest[0] != '+' && rest[0] != '-':
		return time.Time{}, false
	}
	sign, zone := rest[0], rest[1:]
	var hh, mm string
	switch {
	case len(zone) == 2:
		hh = zone
	case len(zone) == 4:
		hh, mm = zone[:2], zone[2:]
	case len(zone) == 5 && zone[2] == ':':
		hh, mm = zone[:2], zone[3:]
	default:
		return time.Time{}, false
	}
	h, ok1 := twoDigits(hh)
	m, ok2 := 0, true
	if mm != "" {
		m, ok2 = twoDigits(mm)
	}
	if !ok1 || !ok2 || h > 23 || m > 59 {
		return time.Time{}, false
	}
	offset := time.Duration(h)*time.Hour + time.Duration(m)*time.Minute
	if sign == '+' {
		offset = -offset
	}
	return t.Add(offset), true
}

func twoDigits(s string) (int, bool) {
	if len(s) != 2 || s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' {
		return 0, false
	}
	return int(s[0]-'0')*10 + int(s[1]-'0'), true
}
