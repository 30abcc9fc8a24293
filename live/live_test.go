package live

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/freshet-dev/freshet/asset"
)

func TestPublishReachesFollowersOfTheTopic(t *testing.T) {
	t.Parallel()
	h := New(4, 8)
	all, err := h.Subscribe(nil)
	if err != nil {
		t.Fatal(err)
	}
	runsOnly, err := h.Subscribe([]string{TopicRuns})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Publish(TopicEvents, EventsNotice{Count: 1}); err != nil {
		t.Fatal(err)
	}
	if err := h.Publish(TopicRuns, RunNotice{Run: "r1", Status: "STARTED"}); err != nil {
		t.Fatal(err)
	}
	got := drain(all)
	if len(got) != 2 || got[0].Topic != TopicEvents || got[1].Topic != TopicRuns || got[0].Seq >= got[1].Seq {
		t.Fatalf("all topics: %+v", got)
	}
	got = drain(runsOnly)
	if len(got) != 1 || got[0].Topic != TopicRuns || string(got[0].Data) != `{"run":"r1","status":"STARTED"}` {
		t.Fatalf("runs only: %+v", got)
	}
}

func TestSlowFollowerLagsInsteadOfBlocking(t *testing.T) {
	t.Parallel()
	h := New(2, 3)
	slow, _ := h.Subscribe(nil)
	for i := range 10 {
		if err := h.Publish(TopicEvents, EventsNotice{Count: i}); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(drain(slow)); got != 3 {
		t.Fatalf("buffered %d notices, want the buffer's 3", got)
	}
	if !slow.Lagged() {
		t.Fatal("a follower that missed notices is not marked lagged")
	}
	if slow.Lagged() {
		t.Fatal("Lagged reports once")
	}
}

func TestFollowerLimit(t *testing.T) {
	t.Parallel()
	h := New(2, 1)
	a, _ := h.Subscribe(nil)
	if _, err := h.Subscribe(nil); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Subscribe(nil); !errors.Is(err, ErrTooMany) {
		t.Fatalf("third follower: %v, want ErrTooMany", err)
	}
	h.Unsubscribe(a)
	if _, err := h.Subscribe(nil); err != nil {
		t.Fatalf("after one left: %v", err)
	}
	if h.Followers() != 2 {
		t.Fatalf("followers %d", h.Followers())
	}
}

func TestPublishEventsSummarises(t *testing.T) {
	t.Parallel()
	changed := func(k asset.Key, state, prev string) asset.Event {
		return asset.Event{Kind: asset.KindFreshnessChanged, Asset: k, Metadata: asset.Metadata{
			"state": asset.Text(state), "previous_state": asset.Text(prev), "root_cause": asset.Text("raw/a")}}
	}
	many := make([]asset.Event, MaxAssets+5)
	for i := range many {
		many[i] = asset.Event{Kind: asset.KindMaterialization, Asset: asset.Key(fmt.Sprintf("k/%03d", i))}
	}
	tests := []struct {
		name          string
		events        []asset.Event
		wantEvents    string
		wantFreshness string
	}{
		{"none", nil, "", ""},
		{
			"duplicates listed once",
			[]asset.Event{{Kind: asset.KindMaterialization, Asset: "a"}, {Kind: asset.KindCheckResult, Asset: "a"}, {Kind: asset.KindMaterialization, Asset: "b"}},
			`{"count":3,"kinds":{"check_result":1,"materialization":2},"assets":["a","b"]}`, "",
		},
		{
			"state changes",
			[]asset.Event{changed("m/b", "FAIL", "PASS")},
			`{"count":1,"kinds":{"freshness_changed":1},"assets":["m/b"]}`,
			`{"changes":[{"asset":"m/b","state":"FAIL","previous":"PASS","root_cause":"raw/a"}]}`,
		},
		{"capped", many, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := New(1, 8)
			s, _ := h.Subscribe(nil)
			if err := h.PublishEvents(tt.events); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, n := range drain(s) {
				got[n.Topic] = string(n.Data)
			}
			if tt.name == "capped" {
				var en EventsNotice
				if err := json.Unmarshal([]byte(got[TopicEvents]), &en); err != nil {
					t.Fatal(err)
				}
				if en.Count != len(many) || len(en.Assets) != MaxAssets || !en.More {
					t.Fatalf("capped notice: count %d, %d assets, more %v", en.Count, len(en.Assets), en.More)
				}
				return
			}
			if got[TopicEvents] != tt.wantEvents || got[TopicFreshness] != tt.wantFreshness {
				t.Fatalf("got %v\nwant events %s\n     freshness %s", got, tt.wantEvents, tt.wantFreshness)
			}
		})
	}
}

// Publishers and followers come and go concurrently (run with -race).
func TestConcurrentPublishAndSubscribe(t *testing.T) {
	t.Parallel()
	h := New(64, 16)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range 200 {
				if err := h.Publish(TopicRuns, RunNotice{Run: fmt.Sprint(i)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
		wg.Go(func() {
			for range 50 {
				s, err := h.Subscribe([]string{TopicRuns})
				if err != nil {
					t.Error(err)
					return
				}
				drain(s)
				h.Unsubscribe(s)
			}
		})
	}
	wg.Wait()
	if h.Followers() != 0 {
		t.Fatalf("%d followers left", h.Followers())
	}
}

func drain(s *Sub) []Notice {
	var out []Notice
	for {
		select {
		case n := <-s.C():
			out = append(out, n)
		default:
			return out
		}
	}
}
