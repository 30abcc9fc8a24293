package ingest

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// agree decodes line with the fast path and the general path, each with
// its own decoder and id sequence, and fails unless every event the fast
// path accepts is exactly what the general path makes of it. It returns
// whether the fast path took the line.
func agree(t *testing.T, line string) bool {
	t.Helper()
	fast := decoder{now: testNow, newID: seqIDs(), max: DefaultMaxEvents}
	general := decoder{now: testNow, newID: seqIDs(), max: DefaultMaxEvents}
	got, ok := fast.fastEvent([]byte(line))
	want, verr := general.parseEvent([]byte(line), "")
	if !ok {
		if got.ID != "" || fast.newID() != "gen-1" {
			t.Fatalf("the fast path declined %s but made an id", line)
		}
		return false
	}
	if verr != nil {
		t.Fatalf("the fast path accepted what the general path refuses (%v):\n%s", verr, line)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("the paths disagree on\n%s\nfast:    %#v\ngeneral: %#v", line, got, want)
	}
	return true
}

// fastCases are lines the fast path must take (fast: true) or leave to the
// general path; either way both must agree.
var fastCases = []struct {
	line string
	fast bool
}{
	{`{"id":"e1","kind":"materialization","asset":"warehouse/s1/t1","time":"2026-11-25T10:00:00Z","run_id":"run-1","upstream":["raw/a","raw/b"],"metadata":{"row_count":12,"uri":"s3://lake/t1","duration_s":12.5,"note":"nightly build","ok":true,"bad":false}}`, true},
	{`{"kind":"observation","asset":"a"}`, true},
	{` { "kind" : "observation" , "asset" : "a" , "metadata" : { } , "upstream" : [ ] } `, true},
	{`{"kind":"materialization","asset":"a","time":"2026-11-25T10:00:00.123456789Z","data_time":"2026-11-25T09:00:00.5+01:00"}`, true},
	{`{"kind":"materialization","asset":"a","time":"2026-11-25T02:00:00-07:30"}`, true},
	{`{"kind":"materialization","asset":"a","time":"2024-02-29T10:00:00Z"}`, true},
	{`{"kind":"materialization","asset":"a","upstream":["b","b","c"]}`, true},
	{`{"kind":"materialization","asset":"a","partition":"2026-11-25","run_id":"a run with spaces"}`, true},
	{`{"kind":"check_result","asset":"a","check":{"name":"not_null.x-1","passed":false,"severity":"warn"}}`, true},
	{`{"kind":"check_result","asset":"a","check":{"passed":true,"name":"x","severity":""}}`, true},
	{`{"kind":"materialization","asset":"a","metadata":{"n":-0,"m":1e3,"f":-1.5E-3,"big":12345678901234567890,"i":-123456789012345678}}`, true},
	{`{"kind":"materialization","asset":"a","metadata":{"row_count":0}}`, true},

	// Left to the general path: errors, and forms the fast path does not read.
	{`{"kind":"materialization","asset":"a","metadata":{"row_count":-1}}`, false},
	{`{"kind":"materialization","asset":"a","metadata":{"row_count":1.5}}`, false},
	{`{"kind":"materialization","asset":"a","metadata":{"x":1,"x":2}}`, false},
	{`{"kind":"materialization","asset":"a","metadata":{"x":null}}`, false},
	{`{"kind":"materialization","asset":"a","metadata":{"x":{"y":1}}}`, false},
	{`{"kind":"materialization","asset":"a","metadata":{"x":01}}`, false},
	{`{"kind":"materialization","asset":"a","metadata":{"x":1-2}}`, false},
	{`{"kind":"materialization","asset":"a","metadata":{"x":NaN}}`, false},
	{`{"kind":"materialization","asset":"a","metadata":{"x":1e999}}`, false},
	{`{"kind":"materialization","asset":"a","metadata":{"column_lineage":"x"}}`, false},
	{`{"kind":"materialization","asset":"a","metadata":{"a b":1}}`, false},
	{`{"kind":"materialization","asset":"a","metadata":{"x":"caf\u00e9"}}`, false},
	{`{"kind":"materialization","asset":"a","metadata":{"x":"café"}}`, false},
	{`{"kind":"materialization","asset":"a","kind":"observation"}`, false},
	{`{"kind":"materialization","asset":"a","colour":"red"}`, false},
	{`{"kind":"materialization","asset":"a","id":null}`, false},
	{`{"kind":"materialization","asset":"a","id":""}`, false},
	{`{"kind":"materialization","asset":"a","id":"a b"}`, false},
	{`{"kind":"materialization","asset":"a","id":"` + strings.Repeat("x", 201) + `"}`, false},
	{`{"kind":"materialization","asset":"a","run_id":"` + strings.Repeat("x", 201) + `"}`, false},
	{`{"kind":"materialization","asset":"a","upstream":["a"]}`, false},
	{`{"kind":"materialization","asset":"a","upstream":["b/"]}`, false},
	{`{"kind":"materialization","asset":"a","upstream":"b"}`, false},
	{`{"kind":"materialization","asset":"a/../b"}`, false},
	{`{"kind":"materialization","asset":""}`, false},
	{`{"kind":"materialization"}`, false},
	{`{"asset":"a"}`, false},
	{`{"kind":"freshness_changed","asset":"a"}`, false},
	{`{"kind":"materialization","asset":"a","time":"2099-01-01T00:00:00Z"}`, false},
	{`{"kind":"materialization","asset":"a","time":"1969-12-31T23:59:59Z"}`, false},
	{`{"kind":"materialization","asset":"a","time":"1970-01-01T00:30:00+01:00"}`, false},
	{`{"kind":"materialization","asset":"a","time":"2026-02-29T10:00:00Z"}`, false},
	{`{"kind":"materialization","asset":"a","time":"2026-11-25T24:00:00Z"}`, false},
	{`{"kind":"materialization","asset":"a","time":"2026-11-25t10:00:00z"}`, false},
	{`{"kind":"materialization","asset":"a","time":"2026-11-25T10:00:00.1234567891Z"}`, false},
	{`{"kind":"materialization","asset":"a","time":"2026-11-25T10:00:00,5Z"}`, false},
	{`{"kind":"materialization","asset":"a","time":""}`, false},
	{`{"kind":"materialization","asset":"a","data_time":"2026-11-25T13:00:00Z","time":"2026-11-25T10:00:00Z"}`, false},
	{`{"kind":"materialization","asset":"a","check":{"name":"x","passed":true}}`, false},
	{`{"kind":"check_result","asset":"a"}`, false},
	{`{"kind":"check_result","asset":"a","check":{"name":"x y","passed":true}}`, false},
	{`{"kind":"check_result","asset":"a","check":{"name":"x","passed":true,"severity":"info"}}`, false},
	{`{"kind":"check_result","asset":"a","check":{"name":"x","passed":true,"passed":false}}`, false},
	{`{"kind":"check_result","asset":"a","check":{"name":"x"}}`, false},
	{`{"kind":"materialization","asset":"a"} {"kind":"observation"}`, false},
	{`{"kind":"materialization","asset":"a",}`, false},
	{`{"kind":"materialization","asset":"a"`, false},
	{`{"kind":"materialization","asset":"a\"b"}`, false},
	{`[{"kind":"materialization","asset":"a"}]`, false},
	{`{}`, false},
	{``, false},
}

func TestFastEventAgrees(t *testing.T) {
	t.Parallel()
	for _, c := range fastCases {
		if took := agree(t, c.line); took != c.fast {
			t.Errorf("fast path took it: %v, want %v:\n%s", took, c.fast, c.line)
		}
	}
}

// TestFastEventTakesTheBenchmark: the events of the ingest benchmarks
// go the fast way, or the figures in docs/performance.md mean nothing.
func TestFastEventTakesTheBenchmark(t *testing.T) {
	t.Parallel()
	lines := strings.Split(strings.TrimSpace(string(ndjsonBatch())), "\n")
	lines = append(lines, strings.Split(strings.TrimSpace(string(wideBatches()[0])), "\n")...)
	for i, line := range lines {
		if !agree(t, line) {
			t.Fatalf("line %d went the general way: %s", i+1, line)
		}
	}
}

// FuzzFastEvent: on any line, an event the fast path accepts is exactly
// the general path's.
func FuzzFastEvent(f *testing.F) {
	for _, c := range fastCases {
		f.Add(c.line)
	}
	f.Fuzz(func(t *testing.T, line string) { agree(t, line) })
}

// TestPlainWord: the eight-byte test never passes a word holding a byte
// str must look at (control, non-ASCII, '"', '\\'), wherever it sits, and
// passes a word of plain bytes.
func TestPlainWord(t *testing.T) {
	t.Parallel()
	plain := func(c byte) bool { return c >= 0x20 && c <= 0x7e && c != '"' && c != '\\' }
	for _, fill := range []byte{' ', 'a', '~', '!', '#', '[', ']'} {
		for pos := range 8 {
			for c := range 256 {
				w := bytes.Repeat([]byte{fill}, 8)
				w[pos] = byte(c)
				if got := plainWord(binary.LittleEndian.Uint64(w)); got != plain(byte(c)) {
					t.Fatalf("plainWord(%q) = %v", w, got)
				}
			}
		}
	}
}

// TestDaysSinceEpoch agrees with package time on every day from 1970
// to 2100, and on the days about the ends of February and of the year
// to 9999.
func TestDaysSinceEpoch(t *testing.T) {
	t.Parallel()
	check := func(year, month, day int) {
		d := time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
		if got, want := daysSinceEpoch(year, month, day), d.Unix()/86400; got != want || d.Day() != day {
			t.Fatalf("%s: %d days, want %d", d.Format(time.DateOnly), got, want)
		}
	}
	for year := 1970; year <= 9999; year++ {
		for month := 1; month <= 12; month++ {
			for day := 1; day <= daysIn(month, year); day++ {
				if year <= 2100 || day == 1 || day >= 28 {
					check(year, month, day)
				}
			}
		}
	}
}

// TestLooksLikeURL: the fast path's URL test is asset.LooksLikeURL on
// the strings str reads.
func TestLooksLikeURL(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"s3://lake/t/1", "https://x", "a://b", "a+b-c.d://e", "s3://", "s3:/x", "://x", "3s://x",
		"s3://a b", "x s3://a", "s_3://x", "s3:://x", "s3:///", "", "s", "a:", "mailto:x",
		"s3://x://y", "x:y://z", "A://b", "a1://b",
	} {
		if got, want := looksLikeURL([]byte(s)), asset.LooksLikeURL(s); got != want {
			t.Errorf("looksLikeURL(%q) = %v, want %v", s, got, want)
		}
	}
}
