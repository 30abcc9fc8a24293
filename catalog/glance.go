package catalog

import (
	"slices"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// Glance is what a graph view shows of an asset, read without copying its
// latest events (Get copies three events and their metadata, which for a
// view of thousands of assets is most of its cost).
type Glance struct {
	Description string
	Tags        []string
	Columns     []asset.Column
	// FirstTime and LastTime are those of its events (zero: none);
	// LastMaterialization the time of its latest materialization.
	FirstTime, LastTime, LastMaterialization time.Time
	// Meta are the text values of the metadata names asked for, from the
	// latest of its last materialization, failure and observation that
	// has them all as non-empty text; nil when none has.
	Meta []string
}

// Glance returns the glance of k; names are the metadata wanted in Meta.
func (c *Catalog) Glance(k asset.Key, names ...string) (Glance, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.entries[k]
	if !ok {
		return Glance{}, false
	}
	g := Glance{Description: e.spec.Description, Tags: slices.Clone(e.spec.Tags), FirstTime: e.firstTime, LastTime: e.lastTime}
	if len(e.spec.Columns) > 0 {
		g.Columns = e.spec.Clone().Columns
	}
	if e.mat.shown != nil {
		g.LastMaterialization = e.mat.shown.Time
	}
	if len(names) == 0 {
		return g, true
	}
	var latest *asset.Event
	for _, ev := range []*asset.Event{e.mat.shown, e.fail.shown, e.obs.shown} {
		if ev == nil || (latest != nil && !ev.After(latest)) || !hasText(ev.Metadata, names) {
			continue
		}
		latest = ev
	}
	if latest != nil {
		g.Meta = make([]string, len(names))
		for i, n := range names {
			g.Meta[i] = latest.Metadata[n].Text
		}
	}
	return g, true
}

func hasText(m asset.Metadata, names []string) bool {
	for _, n := range names {
		if v, ok := m[n]; !ok || v.Text == "" || (v.Type != asset.MetaText && v.Type != asset.MetaURL) {
			return false
		}
	}
	return true
}
