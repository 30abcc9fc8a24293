package asset

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// durationUnits are Go's duration units plus d (24h) and w (7d), because
// freshness windows are usually days and "48h" reads worse than "2d".
// A day is always 24h here: durations are elapsed time, not calendar days.
var durationUnits = map[string]uint64{
	"ns": uint64(time.Nanosecond),
	"us": uint64(time.Microsecond),
	"µs": uint64(time.Microsecond), // U+00B5, what time.Duration.String prints
	"μs": uint64(time.Microsecond), // U+03BC
	"ms": uint64(time.Millisecond),
	"s":  uint64(time.Second),
	"m":  uint64(time.Minute),
	"h":  uint64(time.Hour),
	"d":  uint64(24 * time.Hour),
	"w":  uint64(7 * 24 * time.Hour),
}

// ParseDuration parses a non-negative duration such as "90m", "2d", "1d12h"
// or "1.5h": a sequence of decimal numbers, each with a unit among ns, us
// (or µs), ms, s, m, h, d and w. "0" needs no unit. Negative, empty and
// overflowing durations are errors.
func ParseDuration(s string) (time.Duration, error) {
	fail := func(why string) (time.Duration, error) {
		return 0, fmt.Errorf("invalid duration %q: %s", s, why)
	}
	rest := s
	switch {
	case rest == "":
		return 0, errors.New("invalid duration: empty")
	case rest[0] == '-':
		return fail("negative")
	case rest[0] == '+':
		rest = rest[1:]
	}
	if rest == "0" {
		return 0, nil
	}
	if rest == "" {
		return fail("no number")
	}
	var total uint64
	for rest != "" {
		whole, frac, scale, r, ok := leadingNumber(rest)
		if !ok {
			return fail("expected a number such as 2h or 1d12h")
		}
		rest = r
		i := strings.IndexAny(rest, "0123456789.")
		if i < 0 {
			i = len(rest)
		}
		name := rest[:i]
		rest = rest[i:]
		if name == "" {
			return fail("missing unit (ns, us, ms, s, m, h, d or w), e.g. 2h")
		}
		unit, ok := durationUnits[name]
		if !ok {
			return fail(fmt.Sprintf("unknown unit %q (use ns, us, ms, s, m, h, d or w)", name))
		}
		hi, v := bits.Mul64(whole, unit)
		if hi != 0 {
			return fail("too large")
		}
		if frac > 0 {
			// frac/scale < 1, so frac*unit/scale < unit: the quotient fits
			// and Div64 cannot panic.
			fh, fl := bits.Mul64(frac, unit)
			q, _ := bits.Div64(fh, fl, scale)
			var carry uint64
			if v, carry = bits.Add64(v, q, 0); carry != 0 {
				return fail("too large")
			}
		}
		if v > math.MaxInt64-total {
			return fail("too large")
		}
		total += v
	}
	return time.Duration(total), nil
}

// leadingNumber splits "12.5h" into whole 12, frac 5, scale 10 and rest "h".
// Fraction digits beyond 18 are dropped: they are below a nanosecond for
// every unit.
func leadingNumber(s string) (whole, frac, scale uint64, rest string, ok bool) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	digits := i
	if i > 0 {
		w, err := strconv.ParseUint(s[:i], 10, 64)
		if err != nil {
			// Only overflow can fail here; report it as too large a whole.
			w = math.MaxUint64
		}
		whole = w
	}
	scale = 1
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if scale < 1e18 {
				frac = frac*10 + uint64(s[i]-'0')
				scale *= 10
			}
			i++
			digits++
		}
	}
	return whole, frac, scale, s[i:], digits > 0
}

// FormatDuration writes d in the shortest form ParseDuration reads back
// exactly, using d, h, m and s: 36h is "1d12h", 90m is "1h30m", 0 is "0s".
// Sub-second parts become a decimal fraction of a second ("1m0.5s"); a
// duration under a second uses Go's form ("500ms").
func FormatDuration(d time.Duration) string {
	if d < 0 {
		// -MinInt64 overflows; uint64 holds its magnitude.
		return "-" + formatDuration(uint64(-(d+1))+1)
	}
	return formatDuration(uint64(d))
}

func formatDuration(u uint64) string {
	if u < uint64(time.Second) {
		return time.Duration(u).String()
	}
	var b []byte
	for _, unit := range [...]struct {
		size uint64
		name byte
	}{{uint64(24 * time.Hour), 'd'}, {uint64(time.Hour), 'h'}, {uint64(time.Minute), 'm'}} {
		if n := u / unit.size; n > 0 {
			b = strconv.AppendUint(b, n, 10)
			b = append(b, unit.name)
			u -= n * unit.size
		}
	}
	if u == 0 {
		return string(b)
	}
	sec, ns := u/uint64(time.Second), u%uint64(time.Second)
	b = strconv.AppendUint(b, sec, 10)
	if ns > 0 {
		f := strconv.AppendUint(nil, ns+uint64(time.Second), 10)[1:] // nine digits, zero-padded
		b = append(b, '.')
		b = append(b, strings.TrimRight(string(f), "0")...)
	}
	return string(append(b, 's'))
}
