// Package dbttest generates dbt projects of any size for benchmarks, from
// the hand-written test project's artifacts (dbt/testdata/shop) as
// templates, so that each node has what dbt writes (config, raw and
// compiled code, columns, ...).
package dbttest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Dir is the test project's directory relative to a package directory
// one level below the repository root.
const Dir = "../dbt/testdata/shop"

// Project reads the test project's manifest.json and run_results.json in
// dir and returns a project of models models: 50 sources; models reading
// one source (the first ten) or two earlier models; each with the columns
// of the template model and two more, and two unique tests; every model
// run successfully, every 17th test failing.
func Project(dir string, models int) (manifest, runResults []byte, err error) {
	var m, rr map[string]any
	for name, v := range map[string]*map[string]any{"manifest.json": &m, "run_results.json": &rr} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, nil, err
		}
		if err := json.Unmarshal(b, v); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	clone := func(v any) map[string]any {
		raw, _ := json.Marshal(v)
		var out map[string]any
		_ = json.Unmarshal(raw, &out)
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
	if manifest, err = json.Marshal(m); err != nil {
		return nil, nil, err
	}
	rr["results"] = results
	if runResults, err = json.Marshal(rr); err != nil {
		return nil, nil, err
	}
	return manifest, runResults, nil
}
