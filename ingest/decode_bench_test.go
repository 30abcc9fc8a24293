package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

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
	cpu := processCPU()
	for b.Loop() {
		if _, err := Decode(bytes.NewReader(body), "application/x-ndjson", testNow, ids); err != nil {
			b.Fatal(err)
		}
	}
	reportEvents(b, cpu)
}

// BenchmarkBaselineUnmarshal is the baseline: json.Unmarshal of each line
// straight into asset.Event, with no validation.
func BenchmarkBaselineUnmarshal(b *testing.B) {
	body := ndjsonBatch()
	b.SetBytes(int64(len(body)))
	lines := bytes.Split(bytes.TrimSpace(body), []byte("\n"))
	var events []asset.Event
	cpu := processCPU()
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
	reportEvents(b, cpu)
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
	cpu := processCPU()
	for b.Loop() {
		if _, err := dec.Decode(bytes.NewReader(body), int64(len(body)), "application/x-ndjson", testNow, ids, 0); err != nil {
			b.Fatal(err)
		}
	}
	reportEvents(b, cpu)
}

// wideBatches are the events of `make bench-ingest` (genEvents in
// bench/ingest), encoded as it encodes them: 10 requests of 1,000
// materializations over 10,000 assets and 500 upstreams, so a Decoder's
// cache holds 10,500 keys and no request names an asset twice.
func wideBatches() [][]byte {
	t0 := testNow.Add(-time.Hour)
	var out [][]byte
	for r := range 10 {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		for j := range 1000 {
			i := r*1000 + j
			a := i % 10_000
			ev := asset.Event{
				ID: fmt.Sprintf("tp-%08d", i), Kind: asset.KindMaterialization,
				Asset:    asset.Key(fmt.Sprintf("warehouse/schema%d/table%05d", a%10, a)),
				Time:     t0.Add(time.Duration(i) * time.Microsecond),
				RunID:    fmt.Sprintf("run-%d", i/100),
				Upstream: []asset.Key{asset.Key(fmt.Sprintf("raw/source%03d", a%500))},
				Metadata: asset.Metadata{"row_count": asset.Int(int64(i)), "uri": asset.URL("s3://lake/t/" + fmt.Sprint(a))},
			}
			if err := enc.Encode(&ev); err != nil {
				panic(err)
			}
		}
		out = append(out, b.Bytes())
	}
	return out
}

// BenchmarkDecodeNDJSONWide: the server's Decoder on the events of `make
// bench-ingest`, one 1,000-event request per iteration, cycling over
// the 10 requests of wideBatches (the first pass fills the key cache).
func BenchmarkDecodeNDJSONWide(b *testing.B) {
	bodies := wideBatches()
	b.SetBytes(int64(len(bodies[0])))
	ids := seqIDs()
	dec := NewDecoder()
	i := 0
	cpu := processCPU()
	for b.Loop() {
		body := bodies[i%len(bodies)]
		i++
		if _, err := dec.Decode(bytes.NewReader(body), int64(len(body)), "application/x-ndjson", testNow, ids, 0); err != nil {
			b.Fatal(err)
		}
	}
	reportEvents(b, cpu)
}

// reportEvents reports a benchmark of 1,000 events per iteration, begun
// when the process had used cpu: events/s, and the CPU per event with
// garbage collection included, steadier than events/s on a busy machine.
func reportEvents(b *testing.B, cpu time.Duration) {
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(processCPU()-cpu)/float64(b.N*1000), "cpu-ns/event")
}
