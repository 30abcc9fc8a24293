package marquez_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/catalog"
	"github.com/freshet-dev/freshet/lineage"
	"github.com/freshet-dev/freshet/openlineage"
	"github.com/freshet-dev/freshet/openlineage/marquez"
)

// fixture: a Spark job reading orders and writing two tables (one event),
// and a declared asset built from one of them.
func fixture(t *testing.T) (*lineage.Graph, *catalog.Catalog) {
	t.Helper()
	evs, err := openlineage.Decode([]byte(`{"eventType":"COMPLETE","eventTime":"2026-11-25T06:00:00Z","producer":"https://x",
		"run":{"runId":"0193a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b"},"job":{"namespace":"spark:prod","name":"split"},
		"inputs":[{"namespace":"postgres://db:5432","name":"shop.orders"}],
		"outputs":[{"namespace":"s3://lake","name":"eu/orders"},{"namespace":"s3://lake","name":"us/orders"}]}`),
		time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	evs = append(evs, asset.Event{ID: "e1", Kind: asset.KindMaterialization, Asset: "marts/eu",
		Time: time.Date(2026, 11, 25, 7, 0, 0, 0, time.UTC), Upstream: []asset.Key{evs[0].Asset}})
	cat := catalog.New()
	cat.Apply(evs)
	x := lineage.NewIndex()
	var keys []asset.Key
	var edges []asset.Edge
	for _, e := range evs {
		keys = append(keys, e.Asset)
		for _, u := range e.Upstream {
			edges = append(edges, asset.Edge{Upstream: u, Downstream: e.Asset})
		}
	}
	x.Observe(keys, edges)
	return x.Current(), cat
}

var ns = marquez.Namespaces{Job: "freshet", Dataset: "freshet://freshet"}

func edges(l marquez.Lineage) []string {
	var out []string
	for _, n := range l.Graph {
		for _, e := range n.OutEdges {
			out = append(out, e.Origin+" -> "+e.Destination)
		}
	}
	slices.Sort(out)
	return out
}

func TestQuery(t *testing.T) {
	t.Parallel()
	g, cat := fixture(t)
	all := []string{
		"dataset:postgres://db:5432:shop.orders -> job:spark:prod:split",
		"dataset:s3://lake:eu/orders -> job:freshet:marts/eu",
		"job:freshet:marts/eu -> dataset:freshet://freshet:marts/eu",
		"job:spark:prod:split -> dataset:s3://lake:eu/orders",
		"job:spark:prod:split -> dataset:s3://lake:us/orders",
	}
	for _, tc := range []struct {
		node  string
		depth int
		want  []string
	}{
		{"dataset:postgres://db:5432:shop.orders", 20, all},
		{"job:spark:prod:split", 20, all}, // a namespace with ':'
		{"job:freshet:marts/eu", 1, all[1:3]},
		{"dataset:freshet://freshet:marts/eu", 1, all[1:3]},
		// Up and down from us/orders: not its sibling's downstream.
		{"dataset:s3://lake:us/orders", 5, []string{all[0], all[4]}},
	} {
		l, err := marquez.Query(g, cat, ns, tc.node, tc.depth)
		if err != nil {
			t.Fatalf("%s: %v", tc.node, err)
		}
		if got := edges(l); !slices.Equal(got, tc.want) {
			t.Errorf("%s depth %d:\n%s\nwant:\n%s", tc.node, tc.depth, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
		}
	}
	l, _ := marquez.Query(g, cat, ns, "job:spark:prod:split", 20)
	for _, n := range l.Graph {
		if n.ID == "job:spark:prod:split" {
			j := n.Data.(*marquez.JobData)
			if len(j.Inputs) != 1 || len(j.Outputs) != 2 || len(n.InEdges) != 1 || len(n.OutEdges) != 2 {
				t.Errorf("the job builds both tables, once: %+v %+v", j, n)
			}
		}
	}
}

func TestQueryErrors(t *testing.T) {
	t.Parallel()
	g, cat := fixture(t)
	for _, tc := range []struct {
		node string
		want error
	}{
		{"", marquez.ErrBadNodeID},
		{"dataset", marquez.ErrBadNodeID},
		{"dataset:s3", marquez.ErrBadNodeID},
		{"table:s3://lake:eu/orders", marquez.ErrBadNodeID},
		{"dataset:" + strings.Repeat(":", marquez.MaxNodeID), marquez.ErrBadNodeID},
		{"dataset:s3://lake:eu/none", marquez.ErrNotFound},
		{"dataset::", marquez.ErrNotFound},
		{"job:spark:prod:other", marquez.ErrNotFound},
		{"job:freshet:postgres", marquez.ErrNotFound},
	} {
		if _, err := marquez.Query(g, cat, ns, tc.node, 3); !errors.Is(err, tc.want) {
			t.Errorf("%q: %v, want %v", tc.node, err, tc.want)
		}
	}
}
