package dbt_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/dbt"
	"github.com/freshet-dev/freshet/dbt/dbttest"
)

// bigProject is dbttest.Project from the test project.
func bigProject(tb testing.TB, models int) (manifest, runResults []byte) {
	tb.Helper()
	manifest, runResults, err := dbttest.Project(filepath.Join("testdata", "shop"), models)
	if err != nil {
		tb.Fatal(err)
	}
	return manifest, runResults
}

// BenchmarkImport maps a 1,000-model project (manifest and run results)
// beside the baseline of json.Unmarshal of the same bytes into any (what
// reading them at all costs with the standard library). Run:
//
//	go test -run '^$' -bench BenchmarkImport -benchmem -count 5 ./dbt/
func BenchmarkImport(b *testing.B) {
	manifest, runResults := bigProject(b, 1000)
	size := int64(len(manifest) + len(runResults))
	b.Logf("manifest %d KB, run results %d KB", len(manifest)>>10, len(runResults)>>10)
	b.Run("dbt", func(b *testing.B) {
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			im, err := dbt.Map(dbt.Artifacts{Manifest: manifest, RunResults: runResults}, dbt.Options{Now: now})
			if err != nil {
				b.Fatal(err)
			}
			if im.Counts.Assets != 1050 || im.Counts.Tests != 2000 {
				b.Fatalf("counts %+v", im.Counts)
			}
		}
	})
	b.Run("unmarshal-any", func(b *testing.B) {
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			var m, r any
			if err := json.Unmarshal(manifest, &m); err != nil {
				b.Fatal(err)
			}
			if err := json.Unmarshal(runResults, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkImportPaired times both in each iteration, in alternating
// order, and reports their ratio: on a shared, busy machine the two
// halves of BenchmarkImport may run under different loads. Run:
//
//	go test -run '^$' -bench BenchmarkImportPaired -count 5 ./dbt/
func BenchmarkImportPaired(b *testing.B) {
	manifest, runResults := bigProject(b, 1000)
	mapIt := func() {
		if _, err := dbt.Map(dbt.Artifacts{Manifest: manifest, RunResults: runResults}, dbt.Options{Now: now}); err != nil {
			b.Fatal(err)
		}
	}
	unmarshal := func() {
		var m, r any
		if json.Unmarshal(manifest, &m) != nil || json.Unmarshal(runResults, &r) != nil {
			b.Fatal("unmarshal")
		}
	}
	var inDBT, inJSON time.Duration
	i := 0
	for b.Loop() {
		first, second, d1, d2 := mapIt, unmarshal, &inDBT, &inJSON
		if i%2 == 1 {
			first, second, d1, d2 = unmarshal, mapIt, &inJSON, &inDBT
		}
		t0 := time.Now()
		first()
		t1 := time.Now()
		second()
		*d1 += t1.Sub(t0)
		*d2 += time.Since(t1)
		i++
	}
	b.ReportMetric(float64(inDBT)/float64(inJSON), "dbt/unmarshal")
	b.ReportMetric(float64(inDBT.Milliseconds())/float64(i), "dbt-ms/op")
	b.ReportMetric(float64(inJSON.Milliseconds())/float64(i), "unmarshal-ms/op")
}

// TestBigProject keeps the benchmark's generator honest: its project maps.
func TestBigProject(t *testing.T) {
	t.Parallel()
	manifest, runResults := bigProject(t, 10)
	im, err := dbt.Map(dbt.Artifacts{Manifest: manifest, RunResults: runResults}, dbt.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if im.Counts.Assets != 60 || im.Counts.Materializations != 10 || im.Counts.Tests != 20 || !strings.HasPrefix(string(im.Specs[0].Key), "dbt/") {
		t.Errorf("counts %+v", im.Counts)
	}
}
