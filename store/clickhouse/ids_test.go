package clickhouse

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/freshet-dev/freshet/asset"
)

func TestIDRanges(t *testing.T) {
	t.Parallel()
	uuids := []string{"0193a1b2-0001", "0193a1b2-0002", "0193a1b3-0007"}
	client := []string{"tp-00000001", "tp-00000002", "tp-00000999"}
	for _, c := range []struct {
		name string
		ids  []string
		max  int
		want []any
	}{
		{"one id", []string{"a"}, 8, []any{"a", "a"}},
		{"one range allowed", append(slices.Clone(client), uuids...), 1, []any{uuids[0], client[2]}},
		{"two families apart", append(slices.Clone(client), uuids...), 2, []any{uuids[0], uuids[2], client[0], client[2]}},
		{"as many as allowed", []string{"b2", "a1", "c3", "b1"}, 3, []any{"a1", "a1", "b1", "b2", "c3", "c3"}},
		{"more families than ranges: one", []string{"a", "b", "c", "d"}, 3, []any{"a", "d"}},
		{"every id its own", []string{"x", "y"}, 8, []any{"x", "x", "y", "y"}},
	} {
		got := idRanges(c.ids, c.max)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
		if len(got)/2 > c.max {
			t.Errorf("%s: %d ranges, at most %d allowed", c.name, len(got)/2, c.max)
		}
		for _, id := range c.ids {
			in := false
			for i := 0; i < len(got); i += 2 {
				in = in || got[i].(string) <= id && id <= got[i+1].(string)
			}
			if !in {
				t.Errorf("%s: %s is in no range", c.name, id)
			}
		}
	}
}

// TestLookupOverIDFamilies: ids of several families in one batch (the
// lookup then asks for several ranges) are each found stored on the
// next call, and only those.
func TestLookupOverIDFamilies(t *testing.T) {
	t.Parallel()
	st, _ := openStore(t)
	ctx := context.Background()
	var batch []asset.Event
	for i := range 30 {
		id := fmt.Sprintf("%s-%04d", []string{"0193a1b2", "tp", "lat", "zz"}[i%4], i)
		batch = append(batch, ev(id, asset.KindMaterialization, "a", 100+i))
	}
	added, err := st.AppendEvents(ctx, batch[:20])
	if err != nil || len(added) != 20 {
		t.Fatalf("first call added %d events (%v), want 20", len(added), err)
	}
	added, err = st.AppendEvents(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range added {
		ids = append(ids, e.ID)
	}
	var want []string
	for _, e := range batch[20:] {
		want = append(want, e.ID)
	}
	if !slices.Equal(ids, want) {
		t.Fatalf("second call added %v, want %v", ids, want)
	}
}

// TestIDCeiling: a sole writer looks up only the ids that are not above
// every stored one, learns the ceiling from the server when it starts
// (another process may have stored higher ids), and with shared writers
// looks every id up. Each step says which ids the call must add.
func TestIDCeiling(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, dsn := openStore(t)
	open := func(opts ...Option) *Store {
		st, err := Open(ctx, dsn, append([]Option{WithLogger(quiet)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	first, restarted := open(), open()
	sharedA, sharedB := open(WithSharedWriters()), open(WithSharedWriters())
	for i, step := range []struct {
		st        *Store
		ids, want []string
	}{
		{first, []string{"tp-02", "tp-01"}, []string{"tp-02", "tp-01"}},
		{first, []string{"tp-03", "tp-04"}, []string{"tp-03", "tp-04"}},          // all above: no lookup
		{first, []string{"tp-00", "tp-02", "tp-05"}, []string{"tp-00", "tp-05"}}, // tp-02 is below, and stored
		{first, []string{"tp-05", "tp-06", "tp-06"}, []string{"tp-06"}},          // the ceiling, and a repeat
		{restarted, []string{"tp-01"}, nil},                                      // learns tp-06 from the server,
		{restarted, []string{"tp-05", "tp-07"}, []string{"tp-07"}},               // so tp-05 is looked up
		{restarted, []string{"tp-03", "tp-10"}, []string{"tp-10"}},               // below its ceiling: looked up
		{sharedA, []string{"x-1"}, []string{"x-1"}},
		{sharedB, []string{"z-9"}, []string{"z-9"}},                 // above what sharedA stored,
		{sharedA, []string{"z-9", "x-2", "tp-10"}, []string{"x-2"}}, // so sharedA asks for every id
	} {
		var batch []asset.Event
		for j, id := range step.ids {
			batch = append(batch, ev(id, asset.KindMaterialization, "a", 100*i+j))
		}
		added, err := step.st.AppendEvents(ctx, batch)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		var got []string
		for _, e := range added {
			got = append(got, e.ID)
		}
		if !slices.Equal(got, step.want) {
			t.Fatalf("step %d: appending %v added %v, want %v", i, step.ids, got, step.want)
		}
	}
	// Above the ceiling nothing is asked, and the ceiling rises first.
	restarted.appendMu.Lock()
	defer restarted.appendMu.Unlock()
	ask, err := restarted.belowCeiling(ctx, []string{"tp-51", "tp-50", "tp-09"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ask, []string{"tp-09"}) || restarted.ceiling != "tp-51" {
		t.Fatalf("belowCeiling asked for %v with the ceiling at %q, want [tp-09] and tp-51", ask, restarted.ceiling)
	}
}
