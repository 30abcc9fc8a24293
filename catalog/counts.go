package catalog

import "github.com/freshet-dev/freshet/asset"

// kindCounts counts an asset's events by kind. Every ingested event
// changes a count twice (acknowledged, then stored): the client kinds have
// fixed slots, so that costs a comparison rather than a map operation;
// other kinds go to a map made on first use.
type kindCounts struct {
	client [4]int64 // by clientKindIndex
	other  map[asset.Kind]int64
}

// clientKindIndex is k's slot in kindCounts.client, -1 for other kinds.
func clientKindIndex(k asset.Kind) int {
	switch k {
	case asset.KindMaterialization:
		return 0
	case asset.KindMaterializationFailed:
		return 1
	case asset.KindObservation:
		return 2
	case asset.KindCheckResult:
		return 3
	}
	return -1
}

var clientKindOrder = [4]asset.Kind{asset.KindMaterialization, asset.KindMaterializationFailed, asset.KindObservation, asset.KindCheckResult}

func (c *kindCounts) add(k asset.Kind, n int64) {
	if i := clientKindIndex(k); i >= 0 {
		c.client[i] += n
		return
	}
	if c.other == nil {
		c.other = make(map[asset.Kind]int64)
	}
	c.other[k] += n
}

// get returns the count of k.
func (c *kindCounts) get(k asset.Kind) int64 {
	if i := clientKindIndex(k); i >= 0 {
		return c.client[i]
	}
	return c.other[k]
}

// toMap returns the non-zero counts.
func (c *kindCounts) toMap() map[asset.Kind]int64 {
	m := make(map[asset.Kind]int64, len(c.client)+len(c.other))
	for i, n := range c.client {
		if n != 0 {
			m[clientKindOrder[i]] = n
		}
	}
	for k, n := range c.other {
		if n != 0 {
			m[k] = n
		}
	}
	return m
}
