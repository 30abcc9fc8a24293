package catalog

import (
	"slices"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

func TestGlance(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	job := func(ns, name string) asset.Metadata {
		return asset.Metadata{"job_namespace": asset.Text(ns), "job_name": asset.Text(name)}
	}
	c := New()
	c.SetSpecs([]asset.Spec{{Key: "a", Description: "A table", Tags: []string{"pii"},
		Columns: []asset.Column{{Name: "id", Type: "int"}}}})
	c.Apply([]asset.Event{
		{ID: "1", Kind: asset.KindMaterialization, Asset: "a", Time: t0, Metadata: job("spark", "build_a")},
		{ID: "2", Kind: asset.KindMaterializationFailed, Asset: "a", Time: t0.Add(time.Hour), Metadata: job("airflow", "dag.a")},
		{ID: "3", Kind: asset.KindObservation, Asset: "a", Time: t0.Add(2 * time.Hour)}, // names no job
		{ID: "4", Kind: asset.KindMaterialization, Asset: "b", Time: t0},
	})
	g, ok := c.Glance("a", "job_namespace", "job_name")
	if !ok {
		t.Fatal("a not found")
	}
	if g.Description != "A table" || !slices.Equal(g.Tags, []string{"pii"}) || len(g.Columns) != 1 ||
		!g.FirstTime.Equal(t0) || !g.LastTime.Equal(t0.Add(2*time.Hour)) || !g.LastMaterialization.Equal(t0) {
		t.Errorf("glance %+v", g)
	}
	// The latest event naming a job is the failure.
	if !slices.Equal(g.Meta, []string{"airflow", "dag.a"}) {
		t.Errorf("meta %v", g.Meta)
	}
	g.Tags[0] = "changed" // a copy: the catalog keeps its own
	if again, _ := c.Glance("a"); again.Tags[0] != "pii" || again.Meta != nil {
		t.Errorf("second glance %+v", again)
	}
	if g, ok := c.Glance("b", "job_namespace"); !ok || g.Meta != nil {
		t.Errorf("b: %+v %v", g, ok)
	}
	if _, ok := c.Glance("nope"); ok {
		t.Error("unknown asset found")
	}
}
