package config

import (
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

func TestAutomationBlock(t *testing.T) {
	t.Parallel()
	f, err := Parse("test.yaml", []byte(`
assets: []
automation:
  enabled: true
  cooldown: 5m
  max_backoff: 2h
  exclude:
    - {group: finance}
    - {key_prefix: raw}
`))
	if err != nil {
		t.Fatal(err)
	}
	a := f.Automation
	if !a.Enabled || a.Cooldown != 5*time.Minute || a.MaxBackoff != 2*time.Hour {
		t.Errorf("automation = %+v", a)
	}
	for _, tc := range []struct {
		spec asset.Spec
		want bool
	}{
		{asset.Spec{Key: "marts/x", Group: "finance"}, true},
		{asset.Spec{Key: "raw/orders"}, true},
		{asset.Spec{Key: "rawdata/orders"}, false},
		{asset.Spec{Key: "marts/y", Group: "growth"}, false},
	} {
		if got := a.Excluded(tc.spec); got != tc.want {
			t.Errorf("Excluded(%s, group %q) = %v, want %v", tc.spec.Key, tc.spec.Group, got, tc.want)
		}
	}
	off, err := Parse("test.yaml", []byte("assets: []\n"))
	if err != nil {
		t.Fatal(err)
	}
	if off.Automation.Enabled {
		t.Error("automation is on without an automation block")
	}
}
