package api

import (
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/catalog"
	"github.com/freshet-dev/freshet/lineage"
	"github.com/freshet-dev/freshet/openlineage"
	"github.com/freshet-dev/freshet/openlineage/marquez"
)

// The benchmark graph: 100,000 OpenLineage RunEvents (a START and a
// COMPLETE for each of 50,000 Spark-style jobs), each job reading two
// tables drawn from the 2,000 written before it (or from 500 source
// tables) and writing one, decoded by the real decoder and applied to a
// catalog and lineage index as the server applies ingested events.
const (
	benchJobs    = 50_000
	benchSources = 500
)

var benchGraph = sync.OnceValues(func() (*catalog.Catalog, *lineage.Index) {
	r := rand.New(rand.NewPCG(7, 11))
	table := func(i int) string { return fmt.Sprintf("analytics.schema_%02d.table_%06d", i%40, i) }
	source := func(i int) string { return fmt.Sprintf("shop.public.source_%03d", i) }
	cat, idx := catalog.New(), lineage.NewIndex()
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	now := t0.Add(365 * 24 * time.Hour)
	batch := make([]asset.Event, 0, 1024)
	flush := func() {
		cat.Apply(batch)
		var keys []asset.Key
		var edges []asset.Edge
		for i := range batch {
			keys = append(keys, batch[i].Asset)
			for _, u := range batch[i].Upstream {
				keys = append(keys, u)
				edges = append(edges, asset.Edge{Upstream: u, Downstream: batch[i].Asset})
			}
		}
		idx.Observe(keys, edges)
		batch = batch[:0]
	}
	input := func(i int) string {
		if i < benchSources || r.IntN(10) == 0 {
			return fmt.Sprintf(`{"namespace":"postgres://shop-db:5432","name":%q}`, source(r.IntN(benchSources)))
		}
		return fmt.Sprintf(`{"namespace":"s3://lake","name":%q}`, table(i-1-r.IntN(min(i, 2000))))
	}
	for i := range benchJobs {
		in := input(i) + "," + input(i)
		for k, typ := range []string{"START", "COMPLETE"} {
			at := t0.Add(time.Duration(i)*time.Minute + time.Duration(k)*30*time.Second)
			body := fmt.Sprintf(`{"eventType":%q,"eventTime":%q,"producer":"https://github.com/OpenLineage/OpenLineage/tree/1.40.1/integration/spark",`+
				`"schemaURL":"https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",`+
				`"run":{"runId":"01936a1e-43b0-7c55-9a4e-%012x"},"job":{"namespace":"spark-prod","name":"etl.job_%06d",`+
				`"facets":{"jobType":{"processingType":"BATCH","integration":"SPARK","jobType":"SQL_JOB"}}},`+
				`"inputs":[%s],"outputs":[{"namespace":"s3://lake","name":%q,"outputFacets":{"outputStatistics":{"rowCount":%d}}}]}`,
				typ, at.Format(time.RFC3339), i, i, in, table(i), 1000+i)
			evs, err := openlineage.Decode([]byte(body), now)
			if err != nil {
				panic(fmt.Sprintf("event %d: %v", i, err))
			}
			batch = append(batch, evs...)
			if len(batch) >= 1000 {
				flush()
			}
		}
	}
	flush()
	return cat, idx
})

// BenchmarkMarquezLineage: the Marquez-compatible read at depth 20 of a
// table in the middle of the graph, over HTTP, beside the native
// lineage query of the same asset at the same depth (the baseline), and
// both without HTTP. Run:
//
//	go test -run '^$' -bench BenchmarkMarquezLineage -count 5 ./api/
func BenchmarkMarquezLineage(b *testing.B) {
	cat, idx := benchGraph()
	s := New(Deps{Catalog: cat, Lineage: idx, Events: emptyDeps{}, Ingest: emptyDeps{}, Metrics: http.NotFoundHandler()},
		Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	const name = "analytics.schema_00.table_025000"
	key, err := openlineage.DatasetKey("s3://lake", name)
	if err != nil {
		b.Fatal(err)
	}
	g := idx.Current()
	sub, err := g.Neighbourhood(key, 20)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("graph: %d assets; depth 20 from %s: %d assets, %d edges", g.Len(), key, len(sub.Nodes), len(sub.Edges))
	get := func(b *testing.B, u string) {
		var size int64
		for b.Loop() {
			resp, err := http.Get(u)
			if err != nil {
				b.Fatal(err)
			}
			size, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("GET %s: %s", u, resp.Status)
			}
		}
		b.ReportMetric(float64(size), "resp_bytes")
	}
	b.Run("http/marquez", func(b *testing.B) {
		get(b, srv.URL+"/api/v1/lineage?depth=20&nodeId="+url.QueryEscape("dataset:s3://lake:"+name))
	})
	b.Run("http/native", func(b *testing.B) {
		get(b, srv.URL+"/api/v1/assets/"+url.PathEscape(string(key))+"/lineage?depth=20")
	})
	ns := marquez.Namespaces{Job: "freshet", Dataset: "freshet://freshet"}
	b.Run("inproc/marquez", func(b *testing.B) {
		var n int
		for b.Loop() {
			l, err := marquez.Query(idx.Current(), cat, ns, "dataset:s3://lake:"+name, 20)
			if err != nil {
				b.Fatal(err)
			}
			n = len(l.Graph)
		}
		b.ReportMetric(float64(n), "nodes")
	})
	b.Run("inproc/native", func(b *testing.B) {
		var n int
		for b.Loop() {
			sub, err := idx.Current().Neighbourhood(key, 20)
			if err != nil {
				b.Fatal(err)
			}
			n = len(sub.Nodes)
		}
		b.ReportMetric(float64(n), "nodes")
	})
}
