// Package catalog keeps the latest state of every asset in memory: its spec
// and its latest materialization, failure, observation and check results.
// It is rebuilt from the store's aggregates on start and updated by ingest.
package catalog

import (
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/store"
)

// Asset is a read-only view of one catalog entry. Callers get copies, so
// they may keep them while ingest goes on.
type Asset struct {
	Spec                asset.Spec           `json:"spec"`
	LastMaterialization *asset.Event         `json:"last_materialization,omitempty"`
	LastFailure         *asset.Event         `json:"last_failure,omitempty"`
	LastObservation     *asset.Event         `json:"last_observation,omitempty"`
	LastChecks          []asset.Event        `json:"last_checks,omitempty"`
	Counts              map[asset.Kind]int64 `json:"counts"`
	FirstTime           *time.Time           `json:"first_event_time,omitempty"`
	LastTime            *time.Time           `json:"last_event_time,omitempty"`
}

type entry struct {
	spec      asset.Spec
	lastMat   *asset.Event
	lastFail  *asset.Event
	lastObs   *asset.Event
	checks    map[string]*asset.Event
	counts    map[asset.Kind]int64
	firstTime time.Time
	lastTime  time.Time
}

// Catalog is safe for concurrent use. Writes hold the lock only for the
// in-memory update of one batch; reads copy what they return.
//
// Counts are exact: an asset's count of a kind is what the store holds
// (loaded at start, then raised by Stored with the events the store said
// were new) plus the acknowledged events not stored yet (pending, each id
// once). A retry or a replay of a stored id is pending only until its batch
// is stored, so counts equal the store's once the writer has caught up,
// also after a crash replayed the write-ahead log.
type Catalog struct {
	mu      sync.RWMutex
	entries map[asset.Key]*entry
	pending map[string]counted // acknowledged, not yet through Stored
	// sorted holds every key in order once List has needed it, so a page
	// costs its own size, not the catalog's; nil after a new key (rebuilt
	// by the next List: discoveries come in bursts).
	sorted []asset.Key
}

// counted is where an event was counted.
type counted struct {
	asset asset.Key
	kind  asset.Kind
}

// New returns an empty catalog.
func New() *Catalog {
	return &Catalog{entries: make(map[asset.Key]*entry), pending: make(map[string]counted)}
}

// Load replaces the whole state: declared and API specs, the store's
// per-asset summaries, and the assets only known as endpoints of observed
// lineage edges.
func (c *Catalog) Load(specs []asset.Spec, sums []store.Summary, edges []asset.Edge) {
	entries := make(map[asset.Key]*entry, len(specs)+len(sums))
	get := func(k asset.Key) *entry {
		e, ok := entries[k]
		if !ok {
			e = newEntry(discovered(k))
			entries[k] = e
		}
		return e
	}
	for _, s := range specs {
		get(s.Key).spec = s
	}
	for _, s := range sums {
		e := get(s.Asset)
		e.lastMat, e.lastFail, e.lastObs = s.LastMaterialization, s.LastFailure, s.LastObservation
		for i := range s.LastChecks {
			ev := s.LastChecks[i]
			if ev.Check != nil {
				e.checks[ev.Check.Name] = &ev
			}
		}
		for k, n := range s.Counts {
			e.counts[k] = n
		}
		e.firstTime, e.lastTime = s.FirstTime, s.LastTime
	}
	for _, ed := range edges {
		get(ed.Upstream)
		get(ed.Downstream)
	}
	c.mu.Lock()
	c.entries = entries
	c.sorted = nil
	clear(c.pending)
	c.mu.Unlock()
}

// SetSpecs installs specs (replacing any spec with the same key) and
// returns the keys that were not in the catalog before.
func (c *Catalog) SetSpecs(specs []asset.Spec) (added []asset.Key) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range specs {
		e, ok := c.entries[s.Key]
		if !ok {
			e = newEntry(s)
			c.entries[s.Key] = e
			c.sorted = nil
			added = append(added, s.Key)
		}
		e.spec = s
	}
	return added
}

// Apply folds a batch of acknowledged events into the latest state and
// counts them as pending until Stored. Assets seen for the first time (as
// the event's asset or an upstream) are created as discovered; their keys
// are returned so the caller can persist their specs.
func (c *Catalog) Apply(events []asset.Event) (discoveredKeys []asset.Key) {
	c.mu.Lock()
	defer c.mu.Unlock()
	get := func(k asset.Key) *entry {
		e, ok := c.entries[k]
		if !ok {
			e = newEntry(discovered(k))
			c.entries[k] = e
			c.sorted = nil
			discoveredKeys = append(discoveredKeys, k)
		}
		return e
	}
	for i := range events {
		ev := &events[i]
		if _, ok := c.pending[ev.ID]; ok {
			continue // a retry of an event not stored yet: the first copy counts
		}
		c.pending[ev.ID] = counted{ev.Asset, ev.Kind}
		e := get(ev.Asset)
		for _, u := range ev.Upstream {
			get(u)
		}
		e.counts[ev.Kind]++
		if e.firstTime.IsZero() || ev.Time.Before(e.firstTime) {
			e.firstTime = ev.Time
		}
		if ev.Time.After(e.lastTime) {
			e.lastTime = ev.Time
		}
		switch ev.Kind {
		case asset.KindMaterialization:
			e.lastMat = later(e.lastMat, ev)
		case asset.KindMaterializationFailed:
			e.lastFail = later(e.lastFail, ev)
		case asset.KindObservation:
			e.lastObs = later(e.lastObs, ev)
		case asset.KindCheckResult:
			if ev.Check != nil {
				e.checks[ev.Check.Name] = later(e.checks[ev.Check.Name], ev)
			}
		}
	}
	return discoveredKeys
}

// Stored moves a batch the store accepted from pending to stored: each of
// the batch's pending events is uncounted, then each event the store added
// is counted. Replays, retries of stored ids and dead letters so end up
// counted zero times, new events once.
func (c *Catalog) Stored(batch, added []asset.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range batch {
		p, ok := c.pending[batch[i].ID]
		if !ok {
			continue
		}
		delete(c.pending, batch[i].ID)
		if e, ok := c.entries[p.asset]; ok {
			e.counts[p.kind]--
		}
	}
	for i := range added {
		if e, ok := c.entries[added[i].Asset]; ok {
			e.counts[added[i].Kind]++
		}
	}
}

// later returns whichever of cur and ev is latest, copying ev so the
// catalog never aliases the caller's slice.
func later(cur *asset.Event, ev *asset.Event) *asset.Event {
	if cur != nil && !ev.After(cur) {
		return cur
	}
	cp := *ev
	return &cp
}

// Get returns one asset.
func (c *Catalog) Get(k asset.Key) (Asset, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.entries[k]
	if !ok {
		return Asset{}, false
	}
	return e.view(), true
}

// Len returns the number of assets.
func (c *Catalog) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}

// Keys returns every key, sorted. The caller may modify the slice.
func (c *Catalog) Keys() []asset.Key { return slices.Clone(c.sortedKeys()) }

// Filter selects assets; zero fields do not filter. Text matches the key
// and the description, case-insensitively.
type Filter struct {
	Group, Owner, Tag, Kind, Text string
	Origin                        asset.Origin
	After                         asset.Key // resume after this key (cursor)
	Limit                         int       // 0 means all
}

// List returns the matching assets sorted by key, and whether more remain.
// It walks the keys in order from f.After and stops after f.Limit matches
// (and one more, to answer "more"), so the first and the fiftieth page
// cost the same whatever the catalog's size; a filter that matches little
// walks further.
func (c *Catalog) List(f Filter) (assets []Asset, more bool) {
	text := strings.ToLower(f.Text)
	keys := c.sortedKeys()
	start, _ := slices.BinarySearch(keys, f.After)
	if f.After != "" && start < len(keys) && keys[start] == f.After {
		start++
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, k := range keys[start:] {
		e, ok := c.entries[k]
		if !ok || !f.matches(&e.spec, text) {
			continue // gone by a Load since the keys were taken
		}
		if f.Limit > 0 && len(assets) == f.Limit {
			return assets, true
		}
		assets = append(assets, e.view())
	}
	return assets, false
}

// sortedKeys returns the keys in order, rebuilding the cache after new
// keys arrived. The slice is shared and never modified: a rebuild makes a
// new one.
func (c *Catalog) sortedKeys() []asset.Key {
	c.mu.RLock()
	keys := c.sorted
	c.mu.RUnlock()
	if keys != nil {
		return keys
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sorted == nil {
		c.sorted = slices.Sorted(maps.Keys(c.entries))
	}
	return c.sorted
}

func (f Filter) matches(s *asset.Spec, lowerText string) bool {
	switch {
	case f.Group != "" && s.Group != f.Group,
		f.Owner != "" && !slices.Contains(s.Owners, f.Owner),
		f.Tag != "" && !slices.Contains(s.Tags, f.Tag),
		f.Kind != "" && !slices.Contains(s.Kinds, f.Kind),
		f.Origin != "" && s.Origin != f.Origin:
		return false
	}
	return lowerText == "" ||
		strings.Contains(strings.ToLower(string(s.Key)), lowerText) ||
		strings.Contains(strings.ToLower(s.Description), lowerText)
}

// Groups returns the distinct non-empty groups with their asset counts.
func (c *Catalog) Groups() map[string]int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	groups := make(map[string]int)
	for _, e := range c.entries {
		if e.spec.Group != "" {
			groups[e.spec.Group]++
		}
	}
	return groups
}

// copyEvent copies what a caller could change through a view: the event
// and its metadata map and upstream slice.
func copyEvent(e *asset.Event) *asset.Event {
	if e == nil {
		return nil
	}
	cp := *e
	cp.Upstream = slices.Clone(e.Upstream)
	cp.Metadata = maps.Clone(e.Metadata)
	if e.Check != nil {
		ck := *e.Check
		cp.Check = &ck
	}
	if e.DataTime != nil {
		dt := *e.DataTime
		cp.DataTime = &dt
	}
	return &cp
}

func discovered(k asset.Key) asset.Spec { return asset.Spec{Key: k, Origin: asset.OriginDiscovered} }

func newEntry(s asset.Spec) *entry {
	return &entry{spec: s, checks: make(map[string]*asset.Event), counts: make(map[asset.Kind]int64)}
}

func (e *entry) view() Asset {
	a := Asset{
		Spec:                e.spec.Clone(),
		LastMaterialization: copyEvent(e.lastMat),
		LastFailure:         copyEvent(e.lastFail),
		LastObservation:     copyEvent(e.lastObs),
		Counts:              make(map[asset.Kind]int64, len(e.counts)),
	}
	for k, n := range e.counts {
		if n != 0 {
			a.Counts[k] = n
		}
	}
	for _, ev := range e.checks {
		a.LastChecks = append(a.LastChecks, *copyEvent(ev))
	}
	sort.Slice(a.LastChecks, func(i, j int) bool { return a.LastChecks[i].Check.Name < a.LastChecks[j].Check.Name })
	if !e.firstTime.IsZero() {
		ft, lt := e.firstTime, e.lastTime
		a.FirstTime, a.LastTime = &ft, &lt
	}
	return a
}
