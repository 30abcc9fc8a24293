package ingest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/freshet-dev/freshet/asset"
)

// TestDecoderSharesKeys: a Decoder decodes exactly as DecodeMax does,
// request after request and concurrently, while every request shares one
// string per key; an invalid key is refused every time, never cached.
func TestDecoderSharesKeys(t *testing.T) {
	t.Parallel()
	dec := NewDecoder()
	bodies := []string{
		string(ndjsonBatch()),
		`{"kind":"materialization","asset":"warehouse/schema1/table1","upstream":["raw/shop/orders"]}` + "\n" +
			`{"kind":"observation","asset":"warehouse/schema1/table1","metadata":{"x":"caf\u00e9"}}`,
		`[{"kind":"materialization","asset":"warehouse/schema1/table1"}]`,
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i, body := range bodies {
				ctype := "application/x-ndjson"
				if i == 2 {
					ctype = "application/json"
				}
				got, err := dec.Decode(strings.NewReader(body), int64(len(body)), ctype, testNow, seqIDs(), 0)
				want, werr := DecodeMax(strings.NewReader(body), ctype, testNow, seqIDs(), 0)
				if err != nil || werr != nil {
					t.Errorf("worker %d body %d: %v / %v", w, i, err, werr)
					return
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("worker %d body %d: the shared cache changed the events", w, i)
				}
			}
		})
	}
	wg.Wait()

	a, _ := dec.Decode(strings.NewReader(bodies[1]), -1, "application/x-ndjson", testNow, seqIDs(), 0)
	b, _ := dec.Decode(strings.NewReader(bodies[2]), 5, "application/json", testNow, seqIDs(), 0)
	if unsafe.StringData(string(a[0].Asset)) != unsafe.StringData(string(b[0].Asset)) {
		t.Error("two requests naming one asset hold two copies of its key")
	}

	for range 2 {
		_, err := dec.Decode(strings.NewReader(`{"kind":"materialization","asset":"a/../b"}`), 1000, "application/json", testNow, seqIDs(), 0)
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != "asset" {
			t.Fatalf("invalid key: got %v, want a validation error on asset", err)
		}
	}
}

// TestKeyCacheFolds: keys added one by one are found whether they sit in
// the recent map or were folded into the frozen one, and the bound holds.
func TestKeyCacheFolds(t *testing.T) {
	t.Parallel()
	c := newKeyCache(1000)
	var keys []asset.Key
	for i := range 1500 {
		k := asset.Key(fmt.Sprintf("a/k%d", i))
		keys = append(keys, k)
		c.add(k)
	}
	for i, k := range keys {
		got, ok := c.get(string(k))
		if want := i < 1000; ok != want || ok && got != k {
			t.Fatalf("key %d: got %q %v, want cached: %v", i, got, ok, want)
		}
		if _, ok2 := c.getBytes([]byte(k)); ok2 != ok {
			t.Fatalf("key %d: get and getBytes disagree", i)
		}
	}
	if n := c.frozen.Load().n; n < 500 {
		t.Errorf("only %d keys folded into the frozen map", n)
	}
}

// TestKeyCacheFoldsOnHits: keys left in the recent map (too few for a
// fold by count) move to the frozen table once lookups keep finding them
// there, and stay found.
func TestKeyCacheFoldsOnHits(t *testing.T) {
	t.Parallel()
	c := newKeyCache(1000)
	keys := []asset.Key{"a/x", "a/y", "a/z"}
	for _, k := range keys {
		c.add(k)
	}
	if n := c.frozen.Load().n; n != 0 {
		t.Fatalf("%d keys folded before any lookup, want 0", n)
	}
	for range 2 {
		for _, k := range keys {
			if got, ok := c.getBytes([]byte(k)); !ok || got != k {
				t.Fatalf("%s: got %q %v", k, got, ok)
			}
		}
	}
	if n := c.frozen.Load().n; n != len(keys) {
		t.Fatalf("%d keys folded after lookups, want %d", n, len(keys))
	}
	for _, k := range keys {
		if got, ok := c.get(string(k)); !ok || got != k {
			t.Fatalf("%s after the fold: got %q %v", k, got, ok)
		}
	}
	if _, ok := c.get("a/w"); ok {
		t.Fatal("a key never added is found")
	}
}

// BenchmarkKeyCacheGetBytes: the shared cache's lookups of a decoded
// batch of `make bench-ingest`: 10,500 keys cached, each event looking up
// its asset (10,000 of them) and its upstream (500).
func BenchmarkKeyCacheGetBytes(b *testing.B) {
	c := newKeyCache(DefaultKeyCacheSize)
	var lookups [][]byte
	for i := range benchKeys {
		a := fmt.Sprintf("warehouse/schema%d/table%05d", i%10, i)
		u := fmt.Sprintf("raw/source%03d", i%500)
		c.add(asset.Key(a))
		c.add(asset.Key(u))
		lookups = append(lookups, []byte(a), []byte(u))
	}
	// In the server the keys lie scattered among other data: look them
	// up in no order, so that no lookup finds the last one's cache lines.
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(lookups), func(i, j int) { lookups[i], lookups[j] = lookups[j], lookups[i] })
	b.ResetTimer()
	for b.Loop() {
		for _, k := range lookups {
			if _, ok := c.getBytes(k); !ok {
				b.Fatalf("%s is not cached", k)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(lookups)), "ns/lookup")
}

var benchKeys = 10_000

// TestDecoderReusesBodies: a Decoder reads each request into a buffer an
// earlier request used, so no event may keep a byte of its body: events
// decoded earlier stay exactly as decoded while later bodies overwrite
// the buffer, on the fast path and the general one.
func TestDecoderReusesBodies(t *testing.T) {
	t.Parallel()
	// Per marker: a plain event (the fast path), one with escapes and
	// non-ASCII (the general path), and a check result.
	body := func(marker string) string {
		var b strings.Builder
		for i := range 50 {
			fmt.Fprintf(&b, `{"id":"%[1]s-%[2]d","kind":"materialization","asset":"w/%[1]s%[2]d","time":"2026-11-25T10:00:00.5Z","data_time":"2026-11-25T09:00:00Z","run_id":"%[1]s","partition":"p%[1]s","upstream":["r/%[1]s"],"metadata":{"uri":"s3://%[1]s/x","note":"%[1]s","n":1.5}}`+"\n", marker, i)
			fmt.Fprintf(&b, `{"id":"%[1]s-%[2]d","kind":"observation","asset":"w/%[1]s\u00e9%[2]d","run_id":"\"%[1]s","metadata":{"caf\u00e9":"%[1]s \u00e9","m":"%[1]s://x"}}`+"\n", marker, i)
			fmt.Fprintf(&b, `{"kind":"check_result","asset":"w/%[1]s%[2]d","check":{"name":"c_%[1]s","passed":true}}`+"\n", marker, i)
		}
		return b.String()
	}
	dec := NewDecoder()
	for i := range 20 {
		a := body(fmt.Sprintf("a%02d", i))
		got, err := dec.Decode(strings.NewReader(a), int64(len(a)), "application/x-ndjson", testNow, seqIDs(), 0)
		if err != nil {
			t.Fatal(err)
		}
		b := body(fmt.Sprintf("b%02d", i)) // as long as a: it fits a's buffer
		if _, err := dec.Decode(strings.NewReader(b), int64(len(b)), "application/x-ndjson", testNow, seqIDs(), 0); err != nil {
			t.Fatal(err)
		}
		want, err := DecodeMax(strings.NewReader(a), "application/x-ndjson", testNow, seqIDs(), 0)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round %d: events changed when the next request reused their body", i)
		}
	}
}
