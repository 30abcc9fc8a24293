package live

import (
	"github.com/freshet-dev/freshet/asset"
)

// MaxAssets bounds the asset keys one notice lists; More says there were
// more, and a follower then re-reads what it shows.
const MaxAssets = 100

// EventsNotice: events were stored.
type EventsNotice struct {
	Count  int                `json:"count"`
	Kinds  map[asset.Kind]int `json:"kinds"`
	Assets []asset.Key        `json:"assets"`
	More   bool               `json:"more,omitempty"`
}

// StateChange is one asset's new freshness state.
type StateChange struct {
	Asset     asset.Key `json:"asset"`
	State     string    `json:"state"`
	Previous  string    `json:"previous,omitempty"`
	RootCause asset.Key `json:"root_cause,omitempty"`
}

// FreshnessNotice: freshness states changed.
type FreshnessNotice struct {
	Changes []StateChange `json:"changes"`
	More    bool          `json:"more,omitempty"`
}

// RunNotice: a run or one of its steps changed. Step is set for a step's
// change, with its asset.
type RunNotice struct {
	Run    string    `json:"run"`
	Status string    `json:"status"`
	Step   asset.Key `json:"step,omitempty"`
}

// AlertsNotice: the open incidents changed; Open is how many there are.
type AlertsNotice struct {
	Open int `json:"open"`
}

// PublishEvents publishes a batch of stored events: one events notice,
// and a freshness notice when the batch holds state changes (the monitor
// records them as freshness_changed events).
func (h *Hub) PublishEvents(events []asset.Event) error {
	if len(events) == 0 || h.Followers() == 0 {
		return nil
	}
	en := EventsNotice{Count: len(events), Kinds: map[asset.Kind]int{}}
	var fn FreshnessNotice
	seen := make(map[asset.Key]bool, min(len(events), MaxAssets))
	for i := range events {
		e := &events[i]
		en.Kinds[e.Kind]++
		if !seen[e.Asset] {
			if len(en.Assets) < MaxAssets {
				seen[e.Asset] = true
				en.Assets = append(en.Assets, e.Asset)
			} else {
				en.More = true
			}
		}
		if e.Kind != asset.KindFreshnessChanged {
			continue
		}
		if len(fn.Changes) == MaxAssets {
			fn.More = true
			continue
		}
		fn.Changes = append(fn.Changes, StateChange{
			Asset:     e.Asset,
			State:     e.Metadata["state"].Text,
			Previous:  e.Metadata["previous_state"].Text,
			RootCause: asset.Key(e.Metadata["root_cause"].Text),
		})
	}
	if err := h.Publish(TopicEvents, en); err != nil {
		return err
	}
	if len(fn.Changes) > 0 {
		return h.Publish(TopicFreshness, fn)
	}
	return nil
}
