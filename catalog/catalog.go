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
	spec           asset.Spec
	mat, fail, obs slot
	checks         map[string]*slot // by check name
	counts         kindCounts
	firstTime      time.Time
	lastTime       time.Time
	storedLastTime time.Time // lastTime of the stored events alone
	// ups holds up to maxKnownUps keys of this asset's upstreams known to
	// be in the catalog (entries are only ever added, and Load makes new
	// ones), so Apply need not look them up for every event, and their
	// edges already returned by ApplyLineage. The strings are the
	// catalog's own: an event's could pin a request's buffer.
	ups []asset.Key
}

// maxKnownUps bounds entry.ups: most assets have a few upstreams; one
// with more looks the rest up each time.
const maxKnownUps = 8

// knowsUp reports whether u is among e's remembered upstreams.
func (e *entry) knowsUp(u asset.Key) bool {
	for _, k := range e.ups {
		if k == u {
			return true
		}
	}
	return false
}

// slot is one "latest event" of an asset: the one shown, which includes
// acknowledged events not stored yet, and the one the store holds. They
// differ only until a batch is stored; then an event the store did not add
// (a retry of a stored id with a new time, a dead letter) stops being
// shown, and the stored one is shown again.
type slot struct {
	shown, stored *asset.Event
	// shownOwn and storedOwn mark a copy the catalog made and shares with
	// nothing (not the other field, not Load's summaries), which a later
	// event may overwrite rather than allocate another: an asset with many
	// events between two stored batches costs one copy, not one each.
	// Readers only see the copies under the lock and copy what they
	// return.
	shownOwn, storedOwn bool
}

func (s *slot) apply(ev *asset.Event) {
	if s.shown == nil || ev.After(s.shown) {
		s.shown, s.shownOwn = copyOver(s.shown, s.shownOwn, ev), true
	}
}

// settle records what the store did with ev: added it (it becomes the
// stored latest if it is later) or not (if it was shown, the stored one
// is shown instead).
func (s *slot) settle(ev *asset.Event, added bool) {
	same := func(x *asset.Event) bool { return x != nil && x.ID == ev.ID && x.Time.Equal(ev.Time) }
	switch {
	case added && same(s.shown):
		if s.stored == nil || ev.After(s.stored) {
			s.stored = s.shown // share the copy
			s.shownOwn, s.storedOwn = false, false
		}
	case added:
		if s.stored == nil || ev.After(s.stored) {
			s.stored, s.storedOwn = copyOver(s.stored, s.storedOwn, ev), true
		}
	case same(s.shown) && !same(s.stored):
		s.shown = s.stored
		s.shownOwn, s.storedOwn = false, false
	}
}

// slotOf returns the slot an event of ev's kind fills, nil if none.
func (e *entry) slotOf(ev *asset.Event, create bool) *slot {
	switch ev.Kind {
	case asset.KindMaterialization:
		return &e.mat
	case asset.KindMaterializationFailed:
		return &e.fail
	case asset.KindObservation:
		return &e.obs
	case asset.KindCheckResult:
		if ev.Check == nil {
			return nil
		}
		sl := e.checks[ev.Check.Name]
		if sl == nil && create {
			sl = &slot{}
			e.checks[ev.Check.Name] = sl
		}
		return sl
	}
	return nil
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
	pending pendingSet // acknowledged, not yet through Stored
	// sorted holds every key in order once List has needed it, so a page
	// costs its own size, not the catalog's; nil after a new key (rebuilt
	// by the next List: discoveries come in bursts).
	sorted []asset.Key
}

// counted is where an event was counted. The entry is kept rather than
// its key so that Stored need not look it up again; Load, which replaces
// the entries, also empties pending.
type counted struct {
	entry *entry
	kind  asset.Kind
}

// New returns an empty catalog.
func New() *Catalog {
	return &Catalog{entries: make(map[asset.Key]*entry), pending: newPendingSet()}
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
		e.mat = slot{shown: s.LastMaterialization, stored: s.LastMaterialization}
		e.fail = slot{shown: s.LastFailure, stored: s.LastFailure}
		e.obs = slot{shown: s.LastObservation, stored: s.LastObservation}
		for i := range s.LastChecks {
			ev := s.LastChecks[i]
			if ev.Check != nil {
				e.checks[ev.Check.Name] = &slot{shown: &ev, stored: &ev}
			}
		}
		for k, n := range s.Counts {
			e.counts.add(k, n)
		}
		e.firstTime, e.lastTime, e.storedLastTime = s.FirstTime, s.LastTime, s.LastTime
	}
	for _, ed := range edges {
		get(ed.Upstream)
		get(ed.Downstream)
	}
	c.mu.Lock()
	c.entries = entries
	c.sorted = nil
	c.pending.clear()
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
	discoveredKeys, _ = c.ApplyLineage(events)
	return discoveredKeys
}

// ApplyLineage is Apply that also returns the batch's lineage edges
// (each upstream to the event's asset) that it has not returned before,
// so that the caller can hand a lineage index only those: after warm-up a
// batch of known edges returns none. It knows up to maxKnownUps upstreams
// of each asset, and forgets them in Load; edges beyond are returned each
// time, and so are those of a retry the catalog skips. A caller keeping a
// lineage graph from these edges must therefore not drop observed edges
// it was given, except together with a Load.
func (c *Catalog) ApplyLineage(events []asset.Event) (discoveredKeys []asset.Key, edges []asset.Edge) {
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
	var e *entry // the previous event's: batches often repeat an asset
	for i := range events {
		ev := &events[i]
		p := c.pending.claim(ev.ID)
		if p == nil {
			// A retry of an event not stored yet: the first copy counts.
			// Its upstreams may differ: they go to the lineage as they are.
			for _, u := range ev.Upstream {
				edges = append(edges, asset.Edge{Upstream: u, Downstream: ev.Asset})
			}
			continue
		}
		if e == nil || e.spec.Key != ev.Asset {
			e = get(ev.Asset)
		}
		*p = counted{e, ev.Kind}
		for _, u := range ev.Upstream {
			if e.knowsUp(u) {
				continue
			}
			edges = append(edges, asset.Edge{Upstream: u, Downstream: ev.Asset})
			if ue := get(u); len(e.ups) < maxKnownUps {
				e.ups = append(e.ups, ue.spec.Key)
			}
		}
		e.counts.add(ev.Kind, 1)
		if e.firstTime.IsZero() || ev.Time.Before(e.firstTime) {
			e.firstTime = ev.Time
		}
		if ev.Time.After(e.lastTime) {
			e.lastTime = ev.Time
		}
		if sl := e.slotOf(ev, true); sl != nil {
			sl.apply(ev)
		}
	}
	return discoveredKeys, edges
}

// Stored moves a batch the store accepted from pending to stored: each of
// the batch's pending events is uncounted, then each event the store added
// is counted. Replays, retries of stored ids and dead letters so end up
// counted zero times, new events once. The latest events follow the same
// rule: a copy the store did not add (a retry of a stored id stamped with
// a new time) is no longer shown; the stored one is.
//
// The usual batch is all new: the store added every event, in order
// (added is then the batch itself). That case takes no set of added ids,
// and an event counted as pending under its own asset and kind keeps its
// count (uncounted, then counted again).
func (c *Catalog) Stored(batch, added []asset.Event) {
	allAdded := sameIDs(batch, added)
	var isAdded map[string]bool
	if !allAdded {
		isAdded = make(map[string]bool, len(added))
		for i := range added {
			isAdded[added[i].ID] = true
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range batch {
		ev := &batch[i]
		wasAdded := allAdded || isAdded[ev.ID]
		var e *entry
		if p, pending := c.pending.take(ev.ID); pending {
			if allAdded && p.kind == ev.Kind && p.entry.spec.Key == ev.Asset {
				e = p.entry // counted once either way
			} else {
				p.entry.counts.add(p.kind, -1)
			}
		}
		if e == nil {
			var ok bool
			if e, ok = c.entries[ev.Asset]; !ok {
				continue
			}
			if allAdded {
				e.counts.add(ev.Kind, 1)
			}
		}
		if sl := e.slotOf(ev, false); sl != nil {
			sl.settle(ev, wasAdded)
		}
		if wasAdded {
			e.storedLastTime = maxTime(e.storedLastTime, ev.Time)
		} else if e.lastTime.Equal(ev.Time) && ev.Time.After(e.storedLastTime) {
			e.lastTime = e.storedLastTime // its newest event was not stored
		}
	}
	if allAdded {
		return
	}
	for i := range added {
		if e, ok := c.entries[added[i].Asset]; ok {
			e.counts.add(added[i].Kind, 1)
		}
	}
}

// Forget lowers the counts by events retention removed from the store
// (store.Trimmed.Removed), so they go on matching what the store holds.
// The latest events and first times the catalog shows are never among
// them (retention keeps those).
func (c *Catalog) Forget(removed map[asset.Key]map[asset.Kind]int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for a, kinds := range removed {
		e, ok := c.entries[a]
		if !ok {
			continue
		}
		for k, n := range kinds {
			e.counts.add(k, -min(n, e.counts.get(k)))
		}
	}
}

// sameIDs reports whether b holds a's events in a's order (the store
// added the whole batch). Ids usually share their bytes, so each
// comparison is a pointer check.
func sameIDs(a, b []asset.Event) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ID != b[i].ID {
			return false
		}
	}
	return true
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// copyOver returns a copy of ev, so the catalog never aliases the
// caller's slice: written over dst if the catalog owns it alone, else new.
func copyOver(dst *asset.Event, own bool, ev *asset.Event) *asset.Event {
	if own {
		*dst = *ev
		return dst
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

// Spec returns one asset's spec (a copy) and when its first event
// happened (zero if none): cheaper than Get when that is all one needs.
func (c *Catalog) Spec(k asset.Key) (spec asset.Spec, firstTime time.Time, ok bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.entries[k]
	if !ok {
		return asset.Spec{}, time.Time{}, false
	}
	return e.spec.Clone(), e.firstTime, true
}

// Len returns the number of assets.
func (c *Catalog) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}

// Unknown returns the distinct keys among the events' assets and
// upstreams that are not in the catalog: the assets Apply would create.
// Ingest asks it before acknowledging, to hold the asset limits.
func (c *Catalog) Unknown(events []asset.Event) []asset.Key {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var (
		out  []asset.Key
		seen map[asset.Key]bool
		prev asset.Key
	)
	add := func(k asset.Key) {
		if _, ok := c.entries[k]; ok || seen[k] {
			return
		}
		if seen == nil {
			seen = make(map[asset.Key]bool)
		}
		seen[k] = true
		out = append(out, k)
	}
	for i := range events {
		// Batches name the same asset over and over (the decoder shares
		// one string per key, so this comparison is a pointer check).
		if k := events[i].Asset; k != prev || i == 0 {
			add(k)
			prev = k
		}
		for _, u := range events[i].Upstream {
			add(u)
		}
	}
	return out
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
	return &entry{spec: s, checks: make(map[string]*slot)}
}

func (e *entry) view() Asset {
	a := Asset{
		Spec:                e.spec.Clone(),
		LastMaterialization: copyEvent(e.mat.shown),
		LastFailure:         copyEvent(e.fail.shown),
		LastObservation:     copyEvent(e.obs.shown),
		Counts:              e.counts.toMap(),
	}
	for _, sl := range e.checks {
		if sl.shown != nil {
			a.LastChecks = append(a.LastChecks, *copyEvent(sl.shown))
		}
	}
	sort.Slice(a.LastChecks, func(i, j int) bool { return a.LastChecks[i].Check.Name < a.LastChecks[j].Check.Name })
	if !e.firstTime.IsZero() {
		ft, lt := e.firstTime, e.lastTime
		a.FirstTime, a.LastTime = &ft, &lt
	}
	return a
}
