package openlineage

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/freshet-dev/freshet/asset"
)

// TestColumnLineage: the columnLineage facet of an output becomes its
// column_lineage metadata, inputs named by their asset keys.
func TestColumnLineage(t *testing.T) {
	t.Parallel()
	in := func(name, field string) asset.ColumnRef {
		return asset.ColumnRef{Asset: mustKey(t, "pg://db", name), Column: field}
	}
	event := func(facet string) string {
		return strings.Replace(minimal, `"name":"a.b.out"}`, `"name":"a.b.out","facets":{"columnLineage":`+facet+`}}`, 1)
	}
	for _, tt := range []struct {
		name  string
		facet string
		want  asset.ColumnLineage // nil: no column_lineage metadata
	}{
		{
			"spec 1-2 transformations",
			`{"fields":{"total":{"inputFields":[{"namespace":"pg://db","name":"a.b.in","field":"amount","transformations":[{"type":"DIRECT","subtype":"AGGREGATION","masking":false}]}]}}}`,
			asset.ColumnLineage{"total": {{ColumnRef: in("a.b.in", "amount"), Transformation: "DIRECT/AGGREGATION"}}},
		},
		{
			"the older transformationType, several inputs",
			`{"fields":{"name":{"inputFields":[{"namespace":"pg://db","name":"a.b.in","field":"first"},{"namespace":"pg://db","name":"a.b.other","field":"last"}],"transformationType":"TRANSFORMATION","transformationDescription":"concat"}}}`,
			asset.ColumnLineage{"name": {
				{ColumnRef: in("a.b.in", "first"), Transformation: "TRANSFORMATION"},
				{ColumnRef: in("a.b.other", "last"), Transformation: "TRANSFORMATION"},
			}},
		},
		{
			"a type without subtype; a column without inputs is left out",
			`{"fields":{"id":{"inputFields":[{"namespace":"pg://db","name":"a.b.in","field":"id","transformations":[{"type":"DIRECT"}]}]},"const":{"inputFields":[]}}}`,
			asset.ColumnLineage{"id": {{ColumnRef: in("a.b.in", "id"), Transformation: "DIRECT"}}},
		},
		{"no fields", `{"_producer":"x"}`, nil},
		{"dataset-level inputs only", `{"fields":{},"dataset":[{"namespace":"pg://db","name":"a.b.in","field":"id"}]}`, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			events, err := Decode([]byte(event(tt.facet)), testNow)
			if err != nil {
				t.Fatal(err)
			}
			got, err := asset.ColumnLineageOf(events[0].Metadata)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				b, _ := json.Marshal(got)
				t.Fatalf("column lineage %s, want %v", b, tt.want)
			}
		})
	}

	bad := []struct {
		name, facet, field string
	}{
		{"fields not an object", `{"fields":[]}`, "outputs[0].facets.columnLineage.fields"},
		{"a field not an object", `{"fields":{"x":7}}`, "outputs[0].facets.columnLineage.fields.x"},
		{"inputFields not an array", `{"fields":{"x":{"inputFields":{}}}}`, "outputs[0].facets.columnLineage.fields.x.inputFields"},
		{"an input without its column", `{"fields":{"x":{"inputFields":[{"namespace":"pg://db","name":"a.b.in"}]}}}`, "outputs[0].facets.columnLineage.fields.x.inputFields[0].field"},
		{"an input without namespace", `{"fields":{"x":{"inputFields":[{"name":"a.b.in","field":"y"}]}}}`, "outputs[0].facets.columnLineage.fields.x.inputFields[0].namespace"},
		{"an input column a number", `{"fields":{"x":{"inputFields":[{"namespace":"pg://db","name":"a.b.in","field":3}]}}}`, "outputs[0].facets.columnLineage.fields.x.inputFields[0].field"},
		{"an input dataset no key can name", `{"fields":{"x":{"inputFields":[{"namespace":"pg://db","name":"a/../b","field":"y"}]}}}`, "outputs[0].facets.columnLineage.fields.x.inputFields[0].name"},
		{"transformations not an array", `{"fields":{"x":{"inputFields":[{"namespace":"pg://db","name":"a.b.in","field":"y","transformations":"DIRECT"}]}}}`, "outputs[0].facets.columnLineage.fields.x.inputFields[0].transformations"},
		{"a transformation type a number", `{"fields":{"x":{"inputFields":[{"namespace":"pg://db","name":"a.b.in","field":"y","transformations":[{"type":1}]}]}}}`, "outputs[0].facets.columnLineage.fields.x.inputFields[0].transformations[0].type"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode([]byte(event(tt.facet)), testNow)
			var es Errors
			if !errors.As(err, &es) || es[0].Field != tt.field {
				t.Fatalf("err = %v, want one naming %s", err, tt.field)
			}
		})
	}
}
