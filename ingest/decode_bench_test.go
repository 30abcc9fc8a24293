package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/freshet-dev/freshet/asset"
)

// ndjsonBatch is 1,000 realistic materializations, one per line.
func ndjsonBatch() []byte {
	var b bytes.Buffer
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&b, `{"id":"evt-%d","kind":"materialization","asset":"warehouse/schema%d/table%d","time":"2026-11-25T10:%02d:00Z","run_id":"run-%d","upstream":["raw/shop/orders","raw/shop/customers"],"metadata":{"row_count":%d,"uri":"s3://lake/t%d","duration_s":12.5,"note":"nightly build"}}`+"\n",
			i, i%20, i, i%60, i/10, 1000+i, i)
	}
	return b.Bytes()
}

// BenchmarkDecodeNDJSON: validate and decode a 1,000-event NDJSON batch.
func BenchmarkDecodeNDJSON(b *testing.B) {
	body := ndjsonBatch()
	b.SetBytes(int64(len(body)))
	ids := seqIDs()
	for b.Loop() {
		if _, err := Decode(bytes.NewReader(body), "application/x-ndjson", testNow, ids); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkBaselineUnmarshal is the baseline: json.Unmarshal of each line
// straight into asset.Event, with no validation.
func BenchmarkBaselineUnmarshal(b *testing.B) {
	body := ndjsonBatch()
	b.SetBytes(int64(len(body)))
	lines := bytes.Split(bytes.TrimSpace(body), []byte("\n"))
	var events []asset.Event
	for b.Loop() {
		events = events[:0]
		for _, l := range lines {
			var e asset.Event
			if err := json.Unmarshal(l, &e); err != nil {
				b.Fatal(err)
			}
			events = append(events, e)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "events/s")
	if len(events) != 1000 {
		b.Fatalf("decoded %d events", len(events))
	}
}

// BenchmarkDecodeNDJSONShared: the same batch through a Decoder, as the
// server decodes: asset keys are validated once per server, not once per
// request (each request of this batch names 1,000 different assets).
func BenchmarkDecodeNDJSONShared(b *testing.B) {
	body := ndjsonBatch()
	b.SetBytes(int64(len(body)))
	ids := seqIDs()
	dec := NewDecoder()
	for b.Loop() {
		if _, err := dec.Decode(bytes.NewReader(body), int64(len(body)), "application/x-ndjson", testNow, ids, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "events/s")
}
