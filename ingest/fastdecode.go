package ingest

import (
	"encoding/binary"
	"math"
	"slices"
	"time"

	"github.com/valyala/fastjson/fastfloat"

	"github.com/freshet-dev/freshet/asset"
)

// The fast path. Most events are plain: known members, each once, strings
// of printable ASCII without escapes, flat metadata. fastEvent decodes such
// an event straight from the line's bytes into an asset.Event: no parse
// tree, no wire struct, no closures, no string for a time, and names and
// keys shared with the request's earlier events. Decoding was the largest
// cost of an ingest request (docs/performance.md).
//
// It only ever accepts: anything it does not handle, and anything invalid,
// makes it return false, and the event goes through the general path
// (parseEvent), which alone says what is wrong and where. So every error a
// client sees comes from one place, and fastEvent's checks only need to be
// at least as strict as the general path's. FuzzFastEvent holds the two
// to the same result for every event fastEvent accepts.

// Bounds of the fast path: longer lists fall back.
const (
	fastMaxUpstream = 16
	fastMaxMetadata = 64
	fastNames       = 8
)

// fastScratch is reused by every event of a request.
type fastScratch struct {
	ups         []asset.Key
	metaHint    int               // the last event's metadata entries: its map's size hint
	recentNames []recentName      // the first fastNames metadata names of this request
	names       map[string]string // later ones
	runID       string            // the last run id read
}

// lexer walks one line of JSON.
type lexer struct {
	b []byte
	i int
}

func (l *lexer) ws() {
	for l.i < len(l.b) {
		switch l.b[l.i] {
		case ' ', '\t', '\r', '\n':
			l.i++
		default:
			return
		}
	}
}

// next skips whitespace and consumes c if it comes next. (c is never
// whitespace: when c comes at once, as in compact JSON, there is none to
// skip.)
func (l *lexer) next(c byte) bool {
	if l.i < len(l.b) && l.b[l.i] == c {
		l.i++
		return true
	}
	l.ws()
	if l.i < len(l.b) && l.b[l.i] == c {
		l.i++
		return true
	}
	return false
}

// peek skips whitespace and returns the next byte (0 at the end).
func (l *lexer) peek() byte {
	l.ws()
	if l.i < len(l.b) {
		return l.b[l.i]
	}
	return 0
}

// str reads a string of printable ASCII without escapes (anything else
// is for the general path). It tests eight bytes at a time: strings are
// most of a line, and this was the lexer's hottest loop.
func (l *lexer) str() ([]byte, bool) {
	if !l.next('"') {
		return nil, false
	}
	start := l.i
	j := start
	for ; j+8 <= len(l.b); j += 8 {
		if !plainWord(binary.LittleEndian.Uint64(l.b[j:])) {
			break // the quote, or a byte to look at one by one
		}
	}
	for ; j < len(l.b); j++ {
		c := l.b[j]
		if c == '"' {
			l.i = j + 1
			return l.b[start:j], true
		}
		if c < 0x20 || c > 0x7e || c == '\\' {
			return nil, false
		}
	}
	return nil, false
}

// SWAR constants: a byte's low bit and high bit in each of eight lanes.
const (
	lanes01 = 0x0101010101010101
	lanes80 = 0x8080808080808080
)

// plainWord reports whether all eight bytes of x are printable ASCII other
// than '"' and '\\'. It may say false for a plain word (a borrow or carry
// can flag a neighbour of a flagged byte), never true for one that is not:
// a false sends the lexer to its byte loop, which decides.
func plainWord(x uint64) bool {
	low := (x - lanes01*0x20) & ^x // a byte < 0x20
	high := x | (x + lanes01)      // a byte >= 0x7f
	quote := x ^ (lanes01 * '"')   // a zero byte where '"' was
	bslash := x ^ (lanes01 * '\\') // a zero byte where '\\' was
	zero := (quote-lanes01) & ^quote | (bslash-lanes01) & ^bslash
	return (low|high|zero)&lanes80 == 0
}

// literal consumes word (true, false) if it comes next.
func (l *lexer) literal(word string) bool {
	if len(l.b)-l.i >= len(word) && string(l.b[l.i:l.i+len(word)]) == word {
		l.i += len(word)
		return true
	}
	return false
}

// number reads a number token as fastjson delimits it.
func (l *lexer) number() []byte {
	start := l.i
	for l.i < len(l.b) {
		c := l.b[l.i]
		if c >= '0' && c <= '9' || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E' {
			l.i++
			continue
		}
		break
	}
	return l.b[start:l.i]
}

// plainName reports whether b is a valid id or metadata name of printable
// ASCII (checkName's rules: not empty, no spaces, at most max bytes).
func plainName(b []byte, max int) bool {
	if len(b) == 0 || len(b) > max {
		return false
	}
	for _, c := range b {
		if c == ' ' {
			return false
		}
	}
	return true
}

// fastEvent decodes a plain event; false: use the general path.
func (d *decoder) fastEvent(line []byte) (asset.Event, bool) {
	var (
		l           = lexer{b: line}
		ev          asset.Event
		seen        uint16
		id          []byte
		hasID       bool
		hasTime     bool
		dataTime    time.Time
		hasDataTime bool
		check       *asset.CheckResult
		v           []byte
	)
	ups := d.fast.ups[:0]
	if !l.next('{') {
		return ev, false
	}
	for {
		name, ok := l.str()
		if !ok || !l.next(':') {
			return ev, false
		}
		bit := fieldBit(name)
		if bit == 0 || seen&bit != 0 {
			return ev, false // unknown or repeated: the general path names it
		}
		seen |= bit
		switch bit {
		case fieldID:
			if id, ok = l.str(); !ok || !plainName(id, MaxIDLen) {
				return ev, false
			}
			hasID = true
		case fieldKind:
			if v, ok = l.str(); !ok {
				return ev, false
			}
			k := asset.Kind(clientKind(v))
			if !asset.IsClientKind(k) {
				return ev, false
			}
			ev.Kind = k
		case fieldAsset:
			if v, ok = l.str(); !ok {
				return ev, false
			}
			if ev.Asset, ok = d.fastKey(v); !ok {
				return ev, false
			}
		case fieldTime:
			if v, ok = l.str(); !ok {
				return ev, false
			}
			if ev.Time, ok = fastTime(v); !ok {
				return ev, false
			}
			hasTime = true
		case fieldDataTime:
			if v, ok = l.str(); !ok {
				return ev, false
			}
			if dataTime, ok = fastTime(v); !ok {
				return ev, false
			}
			hasDataTime = true
		case fieldRunID:
			if v, ok = l.str(); !ok || len(v) > MaxTextLen {
				return ev, false
			}
			// Consecutive events of one run share its id's string.
			if string(v) == d.fast.runID {
				ev.RunID = d.fast.runID
			} else {
				ev.RunID = string(v)
				d.fast.runID = ev.RunID
			}
		case fieldPartition:
			if v, ok = l.str(); !ok || len(v) > MaxTextLen {
				return ev, false
			}
			ev.Partition = string(v)
		case fieldUpstream:
			if ups, ok = d.fastUpstream(&l, ups); !ok {
				return ev, false
			}
		case fieldMetadata:
			if ev.Metadata, ok = d.fastMetadata(&l); !ok {
				return ev, false
			}
		case fieldCheck:
			if check, ok = fastCheck(&l); !ok {
				return ev, false
			}
		}
		if l.next(',') {
			continue
		}
		if l.next('}') {
			break
		}
		return ev, false
	}
	if l.ws(); l.i != len(l.b) {
		return ev, false
	}

	// The general path's rules, for what the members above did not settle.
	if ev.Kind == "" || ev.Asset == "" {
		return ev, false
	}
	if !hasTime {
		ev.Time = d.now
	} else if ev.Time.After(d.now.Add(MaxClockSkew)) {
		return ev, false
	}
	if hasDataTime {
		if dataTime.After(ev.Time.Add(MaxClockSkew)) {
			return ev, false
		}
		dt := dataTime // a copy: only an event with a data time pays its allocation
		ev.DataTime = &dt
	}
	if len(ups) > 0 {
		if slices.Contains(ups, ev.Asset) {
			return ev, false // its own upstream
		}
		ev.Upstream = make([]asset.Key, len(ups)) // cheaper than Clone's growslice
		copy(ev.Upstream, ups)
	}
	if (ev.Kind == asset.KindCheckResult) != (check != nil) {
		return ev, false
	}
	ev.Check = check
	d.fast.ups = ups[:0]
	// Ids are made last: a fallback must not see the generator advanced.
	if hasID {
		ev.ID = string(id)
	} else {
		ev.ID = d.newID()
	}
	return ev, true
}

// fastKey returns the key b spells when it is valid: from the request's
// cache without an allocation when an earlier event named it.
func (d *decoder) fastKey(b []byte) (asset.Key, bool) {
	if k, ok := d.cachedKey(b); ok {
		return k, true
	}
	k, err := d.parseKey(string(b))
	return k, err == nil
}

func (d *decoder) fastUpstream(l *lexer, ups []asset.Key) ([]asset.Key, bool) {
	if !l.next('[') {
		return ups, false
	}
	if l.next(']') {
		return ups, true
	}
	for {
		v, ok := l.str()
		if !ok {
			return ups, false
		}
		k, ok := d.fastKey(v)
		if !ok || len(ups) == fastMaxUpstream {
			return ups, false
		}
		if !slices.Contains(ups, k) { // duplicates are harmless; keep one
			ups = append(ups, k)
		}
		if l.next(',') {
			continue
		}
		return ups, l.next(']')
	}
}

// recentName is a metadata name and the last string value it had.
type recentName struct {
	name, last string
}

// metaName returns b as a string, shared with the request's earlier
// events that used the same name. A request's events mostly use the same
// few names: the first fastNames are found by a scan, before any hashing,
// and come with their recentName (else nil).
func (d *decoder) metaName(b []byte) (string, *recentName) {
	for i := range d.fast.recentNames {
		if r := &d.fast.recentNames[i]; r.name == string(b) {
			return r.name, r
		}
	}
	if s, ok := d.fast.names[string(b)]; ok {
		return s, nil
	}
	s := string(b)
	if len(d.fast.recentNames) < fastNames {
		d.fast.recentNames = append(d.fast.recentNames, recentName{name: s})
		return s, &d.fast.recentNames[len(d.fast.recentNames)-1]
	}
	if len(d.fast.names) < maxInterned {
		if d.fast.names == nil {
			d.fast.names = make(map[string]string)
		}
		d.fast.names[s] = s
	}
	return s, nil
}

// metaText returns b as a string: the last value of the same name when
// equal (a note or an owner repeats from event to event).
func metaText(b []byte, r *recentName) string {
	if r == nil {
		return string(b)
	}
	if r.last != string(b) {
		r.last = string(b)
	}
	return r.last
}

// fastMetadata reads metadata straight into the event's map (nil when
// empty, as the general path leaves it).
func (d *decoder) fastMetadata(l *lexer) (asset.Metadata, bool) {
	if !l.next('{') {
		return nil, false
	}
	if l.next('}') {
		return nil, true
	}
	m := make(asset.Metadata, d.fast.metaHint)
	for n := 1; ; n++ {
		nb, ok := l.str()
		if !ok || !plainName(nb, MaxMetaNameLen) || !l.next(':') || n > fastMaxMetadata {
			return nil, false
		}
		name, recent := d.metaName(nb)
		if name == asset.ColumnLineageKey {
			return nil, false // checked by the general path
		}
		var v asset.MetaValue
		switch c := l.peek(); {
		case c == '"':
			b, ok := l.str()
			if !ok {
				return nil, false
			}
			if looksLikeURL(b) {
				v = asset.URL(metaText(b, recent))
			} else {
				v = asset.Text(metaText(b, recent))
			}
		case c == '-' || c >= '0' && c <= '9':
			if v, ok = fastNumber(l.number()); !ok {
				return nil, false
			}
		case l.literal("true"):
			v = asset.Bool(true)
		case l.literal("false"):
			v = asset.Bool(false)
		default:
			return nil, false // null, objects and arrays
		}
		if name == asset.RowCountKey && (v.Type != asset.MetaInt || v.Int < 0) {
			return nil, false
		}
		m[name] = v
		if l.next(',') {
			continue
		}
		if !l.next('}') || len(m) < n {
			return nil, false // a name came twice: the general path names it
		}
		d.fast.metaHint = n
		return m, true
	}
}

// looksLikeURL is asset.LooksLikeURL on the bytes of a string str read,
// in one pass: a scheme (a letter, then letters, digits, '+', '-', '.'),
// "://", at least one byte more, and no space. (The first "://" ends the
// scheme in both: a scheme cannot hold ':'. str refuses tabs and
// newlines, and bytes outside ASCII, where the two would differ.)
func looksLikeURL(b []byte) bool {
	i := 0
	for ; i < len(b); i++ {
		c := b[i]
		alpha := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !(alpha || i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			break
		}
	}
	if i == 0 || len(b)-i <= 3 || b[i] != ':' || b[i+1] != '/' || b[i+2] != '/' {
		return false
	}
	for _, c := range b[i+3:] {
		if c == ' ' {
			return false
		}
	}
	return true
}

// fastNumber types a number as the general path does: an integer literal
// that fits is int, anything else float.
func fastNumber(tok []byte) (asset.MetaValue, bool) {
	// Up to 18 digits always fit: parse them here, without a string.
	if n, ok := smallInt(tok); ok {
		return asset.Int(n), true
	}
	if !isJSONNumber(tok) {
		return asset.MetaValue{}, false
	}
	s := string(tok)
	// A fraction or an exponent makes a float; only a long integer
	// literal needs trying as an int64 (a failed try builds an error).
	if !slices.ContainsFunc(tok, func(c byte) bool { return c == '.' || c == 'e' || c == 'E' }) {
		if n, err := fastfloat.ParseInt64(s); err == nil {
			return asset.Int(n), true
		}
	}
	f, err := fastfloat.Parse(s)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return asset.MetaValue{}, false
	}
	return asset.Float(f), true
}

// smallInt parses a JSON integer literal of up to 18 digits (which
// always fits in an int64); false for anything else.
func smallInt(tok []byte) (int64, bool) {
	digits, neg := tok, false
	if len(digits) > 0 && digits[0] == '-' {
		digits, neg = digits[1:], true
	}
	if len(digits) == 0 || len(digits) > 18 || digits[0] == '0' && len(digits) > 1 {
		return 0, false // JSON has no leading zeros
	}
	var n int64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

func fastCheck(l *lexer) (*asset.CheckResult, bool) {
	if !l.next('{') {
		return nil, false
	}
	var (
		c                  asset.CheckResult
		hasName, hasPassed bool
		hasSeverity        bool
	)
	if !l.next('}') {
		for {
			name, ok := l.str()
			if !ok || !l.next(':') {
				return nil, false
			}
			switch string(name) {
			case "name":
				v, ok := l.str()
				if !ok || hasName || len(v) == 0 || len(v) > MaxTextLen ||
					slices.ContainsFunc(v, func(b byte) bool { return !checkNameByte(b) }) {
					return nil, false
				}
				c.Name, hasName = string(v), true
			case "passed":
				l.ws()
				switch {
				case hasPassed:
					return nil, false
				case l.literal("true"):
					c.Passed = true
				case l.literal("false"):
				default:
					return nil, false
				}
				hasPassed = true
			case "severity":
				v, ok := l.str()
				if !ok || hasSeverity {
					return nil, false
				}
				switch sev := asset.Severity(v); sev {
				case asset.SeverityWarn, asset.SeverityError:
					c.Severity = sev
				case "":
				default:
					return nil, false
				}
				hasSeverity = true
			default:
				return nil, false
			}
			if l.next(',') {
				continue
			}
			if l.next('}') {
				break
			}
			return nil, false
		}
	}
	if !hasName || !hasPassed {
		return nil, false
	}
	if c.Severity == "" {
		c.Severity = asset.SeverityError
	}
	return &c, true
}

// checkNameByte is checkNamePattern's character class.
func checkNameByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '.' || b == '-'
}

// fastTime parses the RFC 3339 times clients send,
// 2006-01-02T15:04:05[.999999999](Z|±07:00), without a string; false for
// any other form and for times the general path refuses (parseTime).
func fastTime(b []byte) (time.Time, bool) {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	num := func(s []byte) int {
		n := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	year, month, day := num(b[0:4]), num(b[5:7]), num(b[8:10])
	hour, minute, sec := num(b[11:13]), num(b[14:16]), num(b[17:19])
	if year < 1970 || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour < 0 || hour > 23 || minute < 0 || minute > 59 || sec < 0 || sec > 59 {
		return time.Time{}, false
	}
	i, nsec := 19, 0
	if b[i] == '.' {
		j := i + 1
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		digits := j - i - 1
		if digits == 0 || digits > 9 {
			return time.Time{}, false
		}
		nsec = num(b[i+1 : j])
		for range 9 - digits {
			nsec *= 10
		}
		i = j
	}
	offset := 0
	switch rest := b[i:]; {
	case len(rest) == 1 && rest[0] == 'Z':
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, om := num(rest[1:3]), num(rest[4:6])
		if oh < 0 || oh > 23 || om < 0 || om > 59 {
			return time.Time{}, false
		}
		offset = (oh*60 + om) * 60
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return time.Time{}, false
	}
	// The Unix time straight from the fields: time.Date normalizes and
	// looks the zone up, work these checked fields do not need.
	unix := daysSinceEpoch(year, month, day)*86400 + int64(hour*3600+minute*60+sec-offset)
	if unix < 0 {
		return time.Time{}, false // before 1970
	}
	return time.Unix(unix, int64(nsec)).UTC(), true
}

// daysSinceEpoch is the days from 1970-01-01 to a valid date of the
// proleptic Gregorian calendar from year 1970 on (the days_from_civil
// algorithm: years counted from March, so the leap day comes last).
func daysSinceEpoch(year, month, day int) int64 {
	if month <= 2 {
		year--
	}
	era := year / 400
	yoe := year - era*400  // [0, 399]
	mp := (month + 9) % 12 // March is 0
	doy := (153*mp+2)/5 + day - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era*146097 + doe - 719468)
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
