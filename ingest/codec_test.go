package ingest

import (
	"encoding/json"
	"errors"
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

// FuzzCodec: decoding arbitrary bytes never panics, and what decodes
// re-encodes to the same bytes' meaning.
func FuzzCodec(f *testing.F) {
	f.Add(encodeBatch(nil, codecSample()))
	f.Add([]byte{1, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		events, err := decodeBatch(b)
		if err != nil {
			return
		}
		again, err := decodeBatch(encodeBatch(nil, events))
		if err != nil || len(again) != len(events) {
			t.Fatalf("re-encoding a decoded batch failed: %v", err)
		}
	})
}
