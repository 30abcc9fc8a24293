// Package live fans out short notices of what changed (events stored,
// freshness states, runs, alerts) to followers such as the web UI's
// server-sent events stream. A notice says what changed, not the new
// state: followers read that from the API, so a notice can be dropped
// safely. A follower that falls behind loses notices and is told to
// resynchronise, so a slow client costs a bounded buffer, never the
// publisher's time.
package live

import (
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
)

// The topics the server publishes.
const (
	TopicEvents    = "events"    // events stored: which assets, how many
	TopicFreshness = "freshness" // freshness states that changed
	TopicRuns      = "runs"      // runs and steps that changed
	TopicAlerts    = "alerts"    // incidents opened, resolved, sent or held
)

// Topics are all topics, in the order the docs list them.
var Topics = []string{TopicEvents, TopicFreshness, TopicRuns, TopicAlerts}

// ErrTooMany is returned by Subscribe when the hub has its maximum of
// followers.
var ErrTooMany = errors.New("too many live followers")

// Notice is one change, its data already JSON.
type Notice struct {
	Seq   uint64
	Topic string
	Data  json.RawMessage
}

// Hub hands each published notice to every follower of its topic.
type Hub struct {
	mu     sync.Mutex
	seq    uint64
	subs   map[*Sub]struct{}
	max    int
	buffer int
}

// New returns a hub for at most maxFollowers followers, each with a buffer
// of buffer notices (defaults 256 and 1024).
func New(maxFollowers, buffer int) *Hub {
	if maxFollowers <= 0 {
		maxFollowers = 256
	}
	if buffer <= 0 {
		buffer = 1024
	}
	return &Hub{subs: map[*Sub]struct{}{}, max: maxFollowers, buffer: buffer}
}

// Sub is one follower.
type Sub struct {
	ch     chan Notice
	topics []string // nil: all
	lagged atomic.Bool
}

// C delivers the notices of the follower's topics.
func (s *Sub) C() <-chan Notice { return s.ch }

// Lagged reports (once) that notices were dropped since the last call:
// the follower should re-read what it shows.
func (s *Sub) Lagged() bool { return s.lagged.Swap(false) }

// Subscribe adds a follower of topics (all when empty).
func (h *Hub) Subscribe(topics []string) (*Sub, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.subs) >= h.max {
		return nil, ErrTooMany
	}
	s := &Sub{ch: make(chan Notice, h.buffer)}
	if len(topics) > 0 {
		s.topics = slices.Clone(topics)
	}
	h.subs[s] = struct{}{}
	return s, nil
}

// Unsubscribe removes a follower; its channel is not closed, so a reader
// racing with it never sees a false end.
func (h *Hub) Unsubscribe(s *Sub) {
	h.mu.Lock()
	delete(h.subs, s)
	h.mu.Unlock()
}

// Followers is the number of followers now.
func (h *Hub) Followers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// Publish sends v (marshalled once) to the followers of topic. It never
// blocks: a follower whose buffer is full misses the notice and is marked
// lagged. A value that cannot be marshalled is a programming error and is
// returned.
func (h *Hub) Publish(topic string, v any) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.subs) == 0 {
		return nil // nobody listens: do not even marshal
	}
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	h.seq++
	n := Notice{Seq: h.seq, Topic: topic, Data: data}
	for s := range h.subs {
		if s.topics != nil && !slices.Contains(s.topics, topic) {
			continue
		}
		select {
		case s.ch <- n:
		default:
			s.lagged.Store(true)
		}
	}
	return nil
}
