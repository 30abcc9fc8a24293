package openlineage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/freshet-dev/freshet/ingest"
)

// benchEvent is the Spark COMPLETE of the tests as a client sends it:
// compact JSON, about 4.4 KB.
func benchEvent(b *testing.B) []byte {
	var c bytes.Buffer
	if err := json.Compact(&c, readEvent(b, "spark_complete_column_lineage.json")); err != nil {
		b.Fatal(err)
	}
	return c.Bytes()
}

// nativeOfSize is native NDJSON events (a materialization with upstream
// and metadata, as ingest's benchmarks use) up to size bytes.
func nativeOfSize(size int) []byte {
	var buf bytes.Buffer
	for i := 0; buf.Len() < size; i++ {
		fmt.Fprintf(&buf, `{"id":"evt-%d","kind":"materialization","asset":"warehouse/schema%d/table%d","time":"2026-11-25T10:%02d:00Z","run_id":"run-%d","upstream":["raw/shop/orders","raw/shop/customers"],"metadata":{"row_count":%d,"uri":"s3://lake/t%d","duration_s":12.5,"note":"nightly build"}}`+"\n",
			i, i%20, i, i%60, i/10, 1000+i, i)
	}
	return buf.Bytes()
}

// BenchmarkDecode: one RunEvent (what a client posts), beside native
// events of the same bytes. Run:
//
//	go test -run '^$' -bench 'BenchmarkDecode' -benchmem -count 5 ./openlineage/
func BenchmarkDecode(b *testing.B) {
	ev := benchEvent(b)
	b.Run("openlineage", func(b *testing.B) {
		b.SetBytes(int64(len(ev)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Decode(ev, testNow); err != nil {
				b.Fatal(err)
			}
		}
	})
	native := nativeOfSize(len(ev))
	b.Run("native", func(b *testing.B) {
		b.SetBytes(int64(len(native)))
		b.ReportAllocs()
		ids := func() string { return "x" }
		for b.Loop() {
			if _, err := ingest.Decode(bytes.NewReader(native), "application/x-ndjson", testNow, ids); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkDecodeBatch: 200 RunEvents as NDJSON, beside native NDJSON of
// the same bytes.
func BenchmarkDecodeBatch(b *testing.B) {
	one := benchEvent(b)
	var buf bytes.Buffer
	for i := range 200 {
		buf.WriteString(strings.Replace(string(one), "d6e7f8091a2b", fmt.Sprintf("%012x", i), 1))
		buf.WriteByte('\n')
	}
	batch := buf.Bytes()
	b.Run("openlineage", func(b *testing.B) {
		b.SetBytes(int64(len(batch)))
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := DecodeBatch(batch, testNow, 0); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*200)/b.Elapsed().Seconds(), "events/s")
	})
	native := nativeOfSize(len(batch))
	b.Run("native", func(b *testing.B) {
		b.SetBytes(int64(len(native)))
		b.ReportAllocs()
		ids := func() string { return "x" }
		for b.Loop() {
			if _, err := ingest.Decode(bytes.NewReader(native), "application/x-ndjson", testNow, ids); err != nil {
				b.Fatal(err)
			}
		}
	})
}
