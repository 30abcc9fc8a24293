package emit_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/executor"
	"github.com/freshet-dev/freshet/openlineage/emit"
	"github.com/freshet-dev/freshet/runs"
	"github.com/freshet-dev/freshet/store"
)

// BenchmarkNotify: what a step's start and end cost the runs service,
// which calls Notify under its lock (the event is made, encoded and
// queued; the queue is never sent, so it fills and the rest are dropped,
// which is the cheap path), beside the baseline of handing the same
// update to a buffered channel, what a live stream follower costs. Run:
//
//	go test -run '^$' -bench BenchmarkNotify -benchmem -count 5 ./openlineage/emit/
func BenchmarkNotify(b *testing.B) {
	ups := []asset.Key{"ol/postgres:%2F%2Fdb:5432/shop.public.orders", "raw/customers", "raw/payments"}
	upstream := func(asset.Key) []asset.Key { return ups }
	updates := func(i int) (runs.Update, runs.Update) {
		now := time.Now()
		run, key := runA, asset.Key(fmt.Sprintf("marts/table_%d", i))
		return runs.Update{Step: &store.StepRecord{RunID: run, Asset: key, Status: string(executor.StepStarted), Started: now}},
			runs.Update{Step: &store.StepRecord{RunID: run, Asset: key, Status: string(executor.StepFailure), Started: now, Ended: now, Reason: "exit status 1"}}
	}
	b.Run("emit", func(b *testing.B) {
		em, err := emit.New(emit.Options{URL: "http://127.0.0.1:1", Upstream: upstream, QueueSize: 1 << 20})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			start, end := updates(i)
			em.Notify(start)
			em.Notify(end)
			i++
		}
	})
	b.Run("baseline_channel", func(b *testing.B) {
		ch := make(chan runs.Update, 1<<20)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			start, end := updates(i)
			for _, u := range []runs.Update{start, end} {
				select {
				case ch <- u:
				default:
				}
			}
			i++
		}
	})
}
