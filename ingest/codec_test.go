package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

func codecSample() []asset.Event {
	dt := time.Date(2026, 11, 25, 7, 0, 0, 123, time.UTC)
	return []asset.Event{
		{ID: "e1", Kind: asset.KindMaterialization, Asset: "raw/örders", Time: time.Date(2026, 11, 25, 8, 0, 0, 999, time.UTC),
			RunID: "r", Partition: "2026-11-24", DataTime: &dt, Upstream: []asset.Key{"a", "b/c"},
			Metadata: asset.Metadata{"row_count": asset.Int(-5), "f": asset.Float(2.5), "whole": asset.Float(3), "ok": asset.Bool(true),
				"u": asset.URL("s3://x"), "t": asset.Text(""), "j": asset.JSONValue(`{"a":[1]}`)}},
		{ID: "e2", Kind: asset.KindCheckResult, Asset: "x", Time: time.Unix(0, 1).UTC(),
			Check: &asset.CheckResult{Name: "n", Passed: true, Severity: asset.SeverityWarn}},
		{ID: "e3", Kind: asset.KindObservation, Asset: "y", Time: time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
}

func TestCodecRoundTrip(t *testing.T) {
	t.Parallel()
	in := codecSample()
	out, err := decodeBatch(encodeBatch(nil, in))
	if err != nil {
		t.Fatal(err)
	}
	if d := eventsDiff(in, out); d != "" {
		t.Errorf("round trip changed the batch: %s", d)
	}
	a, _ := json.Marshal(in)
	b, _ := json.Marshal(out)
	if string(a) != string(b) {
		t.Errorf("round trip changed the batch:\n in %s\nout %s", a, b)
	}
	if out[1].Metadata != nil || out[1].Upstream != nil || out[0].Metadata["whole"].Type != asset.MetaFloat {
		t.Errorf("empty fields or types not preserved: %+v", out[1])
	}
	if empty, err := decodeBatch(encodeBatch(nil, nil)); err != nil || len(empty) != 0 {
		t.Errorf("empty batch: %v %v", empty, err)
	}
}

func TestCodecRejectsDamage(t *testing.T) {
	t.Parallel()
	good := encodeBatch(nil, codecSample())
	for cut := 0; cut < len(good); cut++ {
		if _, err := decodeBatch(good[:cut]); !errors.Is(err, errCodec) {
			t.Fatalf("truncated at %d: err = %v", cut, err)
		}
	}
	if _, err := decodeBatch(append(append([]byte(nil), good...), 0)); !errors.Is(err, errCodec) {
		t.Error("trailing byte accepted")
	}
	bad := append([]byte(nil), good...)
	bad[0] = 9
	if _, err := decodeBatch(bad); !errors.Is(err, errCodec) {
		t.Error("unknown version accepted")
	}
}

// FuzzCodec: decoding arbitrary bytes never panics; what decodes
// re-encodes and decodes again to the same events; and a batch built from
// the bytes (with what the decoder never returns: other time zones, empty
// but non-nil lists and maps, NaN floats) comes back as the same events.
func FuzzCodec(f *testing.F) {
	f.Add(encodeBatch(nil, codecSample()))
	f.Add([]byte{1, 1})
	f.Add([]byte{ // for fuzzEvents: two events
		2,
		// e1: 1ns in an odd zone, data time the earliest UnixNano in CET,
		// empty upstream and metadata, a failed check
		2, 'e', '1', 1, 'm', 1, 'a', 0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0,
		1, 0x80, 0, 0, 0, 0, 0, 0, 0, 1,
		1, 1,
		1, 1, 'c', 0, 1, 'w',
		// e2: -1ns in UTC, two upstream keys, one metadata value of each
		// type (a NaN and a -0 float), no check
		2, 'e', '2', 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0,
		2, 1, 'x', 0,
		7,
		1, 0x7f, 0xf8, 0, 0, 0, 0, 0, 1, 1, 'n',
		1, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 'z',
		0, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 'i',
		2, 1, 1, 'b',
		3, 2, 'u', 'r', 1, 'u',
		4, 2, '[', ']', 1, 'j',
		5, 0, 1, 't',
		0,
	})
	f.Fuzz(func(t *testing.T, b []byte) {
		if events, err := decodeBatch(b); err == nil {
			again, err := decodeBatch(encodeBatch(nil, events))
			if err != nil {
				t.Fatalf("re-encoding a decoded batch failed: %v", err)
			}
			if d := eventsDiff(events, again); d != "" {
				t.Fatalf("re-encoding a decoded batch changed it: %s", d)
			}
		}
		events := fuzzEvents(b)
		out, err := decodeBatch(encodeBatch(nil, events))
		if err != nil {
			t.Fatalf("decoding an encoded batch failed: %v", err)
		}
		if d := eventsDiff(events, out); d != "" {
			t.Fatalf("round trip changed the batch: %s", d)
		}
	})
}

// eventsDiff describes the first difference between want and got, ""
// when got is want as far as the codec promises: times as the same
// instant, decoded in UTC (the codec keeps Unix nanoseconds, not the
// zone); a nil and an empty upstream list or metadata map alike (the
// decoder returns nil); a metadata value by its type and the field that
// type uses; floats bit for bit (NaN and -0 survive).
func eventsDiff(want, got []asset.Event) string {
	if len(want) != len(got) {
		return fmt.Sprintf("%d events, want %d", len(got), len(want))
	}
	for i := range want {
		w, g := &want[i], &got[i]
		field := func(name string, gv, wv any) string {
			return fmt.Sprintf("event %d (%q): %s = %#v, want %#v", i, w.ID, name, gv, wv)
		}
		switch {
		case g.ID != w.ID:
			return field("ID", g.ID, w.ID)
		case g.Kind != w.Kind:
			return field("Kind", g.Kind, w.Kind)
		case g.Asset != w.Asset:
			return field("Asset", g.Asset, w.Asset)
		case !g.Time.Equal(w.Time) || g.Time.Location() != time.UTC:
			return field("Time", inZone(g.Time), inZone(w.Time.UTC()))
		case g.RunID != w.RunID:
			return field("RunID", g.RunID, w.RunID)
		case g.Partition != w.Partition:
			return field("Partition", g.Partition, w.Partition)
		case (g.DataTime == nil) != (w.DataTime == nil):
			return field("DataTime", g.DataTime, w.DataTime)
		case g.DataTime != nil && (!g.DataTime.Equal(*w.DataTime) || g.DataTime.Location() != time.UTC):
			return field("DataTime", inZone(*g.DataTime), inZone(w.DataTime.UTC()))
		case !slices.Equal(g.Upstream, w.Upstream):
			return field("Upstream", g.Upstream, w.Upstream)
		case len(g.Metadata) != len(w.Metadata):
			return field("Metadata", g.Metadata, w.Metadata)
		case (g.Check == nil) != (w.Check == nil) || g.Check != nil && *g.Check != *w.Check:
			return field("Check", g.Check, w.Check)
		}
		for name, wv := range w.Metadata {
			gv, ok := g.Metadata[name]
			if !ok {
				return field(fmt.Sprintf("Metadata[%q]", name), nil, wv)
			}
			if !metaEqual(gv, wv) {
				return field(fmt.Sprintf("Metadata[%q]", name), gv, wv)
			}
		}
	}
	return ""
}

// inZone shows a time with its location's name (time.Local in a UTC
// environment prints as UTC).
func inZone(t time.Time) string { return fmt.Sprintf("%v [%v]", t, t.Location()) }

// metaEqual compares what the codec keeps of a value: its type and the
// field the type uses (the others are zero after decoding).
func metaEqual(g, w asset.MetaValue) bool {
	if g.Type != w.Type {
		return false
	}
	want := asset.MetaValue{Type: w.Type}
	switch w.Type {
	case asset.MetaInt:
		want.Int = w.Int
	case asset.MetaFloat:
		if math.Float64bits(g.Float) != math.Float64bits(w.Float) {
			return false
		}
		want.Float, g.Float = 0, 0
	case asset.MetaBool:
		want.Bool = w.Bool
	default:
		want.Text = w.Text
	}
	return g == want
}

// fuzzEvents builds a batch from b: every field, each metadata type, nil
// and empty lists and maps, times in several zones. Missing bytes read as
// zeros, so any b makes a batch.
func fuzzEvents(b []byte) []asset.Event {
	s := fuzzSource{b}
	zones := []*time.Location{time.UTC, time.FixedZone("CET", 3600), time.FixedZone("odd", -(9*3600 + 30*60 + 17))}
	instant := func() time.Time { return time.Unix(0, s.int64()).In(zones[int(s.byte())%len(zones)]) }
	events := make([]asset.Event, s.byte()%4)
	for i := range events {
		e := &events[i]
		e.ID, e.Kind, e.Asset = s.str(), asset.Kind(s.str()), asset.Key(s.str())
		e.Time = instant()
		e.RunID, e.Partition = s.str(), s.str()
		if s.byte()%2 == 1 {
			dt := instant()
			e.DataTime = &dt
		}
		switch n := s.byte() % 4; n {
		case 0:
		case 1:
			e.Upstream = []asset.Key{}
		default:
			for range n {
				e.Upstream = append(e.Upstream, asset.Key(s.str()))
			}
		}
		switch n := s.byte() % 8; n {
		case 0:
		case 1:
			e.Metadata = asset.Metadata{}
		default:
			e.Metadata = asset.Metadata{}
			for range n {
				var v asset.MetaValue
				switch s.byte() % 6 {
				case 0:
					v = asset.Int(s.int64())
				case 1:
					v = asset.Float(math.Float64frombits(uint64(s.int64())))
				case 2:
					v = asset.Bool(s.byte()%2 == 1)
				case 3:
					v = asset.URL(s.str())
				case 4:
					v = asset.JSONValue(s.str())
				default:
					v = asset.Text(s.str())
				}
				e.Metadata[s.str()] = v
			}
		}
		if s.byte()%2 == 1 {
			e.Check = &asset.CheckResult{Name: s.str(), Passed: s.byte()%2 == 1, Severity: asset.Severity(s.str())}
		}
	}
	return events
}

// fuzzSource hands out b's bytes, then zeros.
type fuzzSource struct{ b []byte }

func (s *fuzzSource) byte() byte {
	if len(s.b) == 0 {
		return 0
	}
	v := s.b[0]
	s.b = s.b[1:]
	return v
}

func (s *fuzzSource) int64() int64 {
	var v uint64
	for range 8 {
		v = v<<8 | uint64(s.byte())
	}
	return int64(v)
}

func (s *fuzzSource) str() string {
	n := min(int(s.byte()%16), len(s.b))
	v := string(s.b[:n])
	s.b = s.b[n:]
	return v
}
