package config

import (
	"time"

	"gopkg.in/yaml.v3"

	"github.com/freshet-dev/freshet/asset"
)

// Automation is the automation block: whether the freshness monitor may
// request runs of stale assets, how often, and for which.
//
//	automation:
//	  enabled: true
//	  cooldown: 10m        # least time between two requests for an asset
//	  max_backoff: 6h      # cap of the cooldown doubled after each failed run
//	  exclude:             # assets never rebuilt automatically
//	    - {group: finance}
//	    - {key_prefix: raw}
type Automation struct {
	Enabled    bool
	Cooldown   time.Duration // 0: the default (10m)
	MaxBackoff time.Duration // 0: the default (6h)
	exclude    []selection
}

// Excluded reports whether an exclude selector matches s.
func (a *Automation) Excluded(s asset.Spec) bool {
	for i := range a.exclude {
		if a.exclude[i].matches(&s) {
			return true
		}
	}
	return false
}

var automationFields = []string{"enabled", "cooldown", "max_backoff", "exclude"}

func (d *decoder) automation(n *yaml.Node, path string) Automation {
	var a Automation
	fs, ok := d.fields(n, path, automationFields)
	if !ok {
		return a
	}
	if f, ok := fs["enabled"]; ok {
		v := d.resolve(f.val)
		if v != nil && (v.Kind != yaml.ScalarNode || v.ShortTag() != "!!bool" || v.Decode(&a.Enabled) != nil) {
			d.addf(v.Line, join(path, "enabled"), "expected true or false, got %s", describe(v))
		}
	}
	if f, ok := fs["cooldown"]; ok {
		a.Cooldown, _ = d.duration(f.val, join(path, "cooldown"))
	}
	if f, ok := fs["max_backoff"]; ok {
		a.MaxBackoff, _ = d.duration(f.val, join(path, "max_backoff"))
	}
	if a.Cooldown > 0 && a.MaxBackoff > 0 && a.MaxBackoff < a.Cooldown {
		d.addf(fs["max_backoff"].val.Line, join(path, "max_backoff"), "max_backoff %s is less than cooldown %s",
			asset.FormatDuration(a.MaxBackoff), asset.FormatDuration(a.Cooldown))
	}
	if f, ok := fs["exclude"]; ok {
		for i, item := range d.seq(f.val, join(path, "exclude")) {
			if s, ok := d.selector(field{key: item, val: item}, index(join(path, "exclude"), i)); ok {
				a.exclude = append(a.exclude, s)
			}
		}
	}
	return a
}
