package dbt_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/dbt"
)

// bigProject is a project of models models (each reading one or two
// earlier models or one of 50 sources, with 6 columns and 2 tests) and its
// run results: the test project's nodes as templates, so each has what
// dbt writes (config, raw and compiled code, ...).
func bigProject(b testing.TB, models int) (manifest, runResults []byte) {
	var m map[string]any
	if err := json.Unmarshal(read(b, "manifest.json"), &m); err != nil {
		b.Fatal(err)
	}
	clone := func(v any) map[string]any {
		raw, _ := json.Marshal(v)
		var out map[string]any
		json.Unmarshal(raw, &out)
		return out
	}
	nodes, sources := m["nodes"].(map[string]any), m["sources"].(map[string]any)
	modelT, testT, srcT := nodes["model.shop.orders"], nodes["test.shop.unique_orders_order_id"], sources["source.shop.shop.orders"]
	newNodes, newSources := map[string]any{}, map[string]any{}
	for i := range 50 {
		s := clone(srcT)
		name := fmt.Sprintf("table_%d", i)
		id := "source.shop.shop." + name
		s["unique_id"], s["name"], s["identifier"] = id, name, name
		newSources[id] = s
	}
	var results []any
	for i := range models {
		n := clone(modelT)
		name := fmt.Sprintf("model_%d", i)
		id := "model.shop." + name
		n["unique_id"], n["name"], n["alias"] = id, name, name
		n["schema"] = fmt.Sprintf("layer_%d", i%10)
		deps := []any{fmt.Sprintf("source.shop.shop.table_%d", i%50)}
		if i >= 10 {
			deps = []any{fmt.Sprintf("model.shop.model_%d", i-1-i%7), fmt.Sprintf("model.shop.model_%d", i/2)}
		}
		n["depends_on"] = map[string]any{"macros": []any{}, "nodes": deps}
		cols := n["columns"].(map[string]any)
		cols["loaded_at"] = map[string]any{"name": "loaded_at", "description": "", "data_type": "timestamp", "meta": map[string]any{}, "tags": []any{}}
		cols["note"] = map[string]any{"name": "note", "description": "free text", "data_type": "text", "meta": map[string]any{}, "tags": []any{}}
		newNodes[id] = n
		results = append(results, map[string]any{"status": "success", "unique_id": id, "thread_id": "Thread-1", "execution_time": 1.5,
			"timing":           []any{map[string]any{"name": "execute", "started_at": "2026-11-25T06:00:00Z", "completed_at": "2026-11-25T06:00:01.5Z"}},
			"adapter_response": map[string]any{"_message": "SELECT 10", "code": "SELECT", "rows_affected": 10}, "message": "SELECT 10"})
		for j, col := range []string{"order_id", "customer_id"} {
			tn := clone(testT)
			tname := fmt.Sprintf("unique_%s_%s", name, col)
			tid := "test.shop." + tname
			tn["unique_id"], tn["name"], tn["attached_node"], tn["column_name"] = tid, tname, id, col
			tn["depends_on"] = map[string]any{"macros": []any{"macro.dbt.test_unique"}, "nodes": []any{id}}
			newNodes[tid] = tn
			status := "pass"
			if (i+j)%17 == 0 {
				status = "fail"
			}
			results = append(results, map[string]any{"status": status, "unique_id": tid, "execution_time": 0.2, "failures": 0,
				"timing": []any{map[string]any{"name": "execute", "started_at": "2026-11-25T06:01:00Z", "completed_at": "2026-11-25T06:01:00.2Z"}}})
		}
	}
	m["nodes"], m["sources"] = newNodes, newSources
	m["parent_map"], m["child_map"], m["group_map"] = map[string]any{}, map[string]any{}, map[string]any{}
	manifest, err := json.Marshal(m)
	if err != nil {
		b.Fatal(err)
	}
	var rr map[string]any
	json.Unmarshal(read(b, "run_results.json"), &rr)
	rr["results"] = results
	runResults, err = json.Marshal(rr)
	if err != nil {
		b.Fatal(err)
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
