package freshness

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// Partitions. An asset with a PartitionsSpec has its data time from its
// partitions, not from its runs (docs/freshness.md, "Partitions"):
//   - time partitions (daily, hourly; UTC windows [start, start+period)):
//     the end of the latest contiguous run of materialized windows,
//     counted from the window holding the spec's start (or, without a
//     start, from the earliest partition materialized). A backfill of an
//     old partition does not move it past a gap;
//   - static partitions: every listed partition must have been
//     materialized; the data time is the oldest partition's latest
//     materialization.
//
// The partition field of materializations is kept per asset whatever its
// spec (events may come before the spec): one entry per partition, which
// the loop keeps complete (it reads a partitioned asset's materializations
// from the store when it starts following it).

// Partition key layouts: Dagster's defaults.
const (
	DailyPartitionLayout  = "2006-01-02"
	HourlyPartitionLayout = "2006-01-02-15:04"
)

// maxPartitionTimes bounds the materialization times kept per partition:
// the first one and the latest ones.
const maxPartitionTimes = 32

// partSpec is a compiled PartitionsSpec.
type partSpec struct {
	kind   string // "daily", "hourly", "static"
	period int64  // ns, time partitions
	start  int64  // first window's start; math.MinInt64: the earliest seen
	values []string
}

func compilePartitions(p *asset.PartitionsSpec) *partSpec {
	if p == nil {
		return nil
	}
	ps := &partSpec{kind: p.Type, start: math.MinInt64}
	switch p.Type {
	case "daily":
		ps.period = int64(24 * time.Hour)
	case "hourly":
		ps.period = int64(time.Hour)
	case "static":
		ps.values = slices.Clone(p.Values)
		if len(ps.values) == 0 {
			return nil
		}
		return ps
	default:
		return nil // config rejects it; treat the asset as unpartitioned
	}
	if !p.Start.IsZero() {
		ps.start = p.Start.UTC().Truncate(time.Duration(ps.period)).UnixNano()
	}
	return ps
}

func (p *partSpec) equal(o *partSpec) bool {
	if p == nil || o == nil {
		return p == o
	}
	return p.kind == o.kind && p.period == o.period && p.start == o.start && slices.Equal(p.values, o.values)
}

// window parses a time partition key to its window's start.
func (p *partSpec) window(key string) (int64, bool) {
	layout := DailyPartitionLayout
	if p.kind == "hourly" {
		layout = HourlyPartitionLayout
	}
	t, err := time.Parse(layout, key)
	if err != nil {
		return 0, false
	}
	if t.UnixNano()%p.period != 0 {
		return 0, false
	}
	return t.UnixNano(), true
}

// partitionKey formats the window starting at w.
func partitionKey(period int64, w int64) string {
	layout := DailyPartitionLayout
	if period == int64(time.Hour) {
		layout = HourlyPartitionLayout
	}
	return time.Unix(0, w).UTC().Format(layout)
}

type filled struct {
	start, first int64 // window start; its first materialization
}

// recordPartition folds a materialization of partition key at at.
func (s *AssetState) recordPartition(key string, at int64) bool {
	if s.parts == nil {
		s.parts = make(map[string][]int64)
	}
	ts := s.parts[key]
	i, found := slices.BinarySearch(ts, at)
	if found {
		return false
	}
	ts = slices.Insert(ts, i, at)
	if len(ts) > maxPartitionTimes {
		ts = slices.Delete(ts, 1, 2) // keep the first
	}
	s.parts[key] = ts
	if i == 0 && s.pspec != nil && s.pspec.period > 0 { // a new partition, or an earlier first materialization
		if w, ok := s.pspec.window(key); ok && w >= s.pspec.start {
			j, found := slices.BinarySearchFunc(s.windows, w, func(f filled, w int64) int { return cmp.Compare(f.start, w) })
			if found {
				s.windows[j].first = at
			} else {
				s.windows = slices.Insert(s.windows, j, filled{start: w, first: at})
			}
		}
	}
	return true
}

// indexWindows rebuilds the sorted list of filled time windows.
func (s *AssetState) indexWindows() {
	s.windows = s.windows[:0]
	for k, ts := range s.parts {
		if w, ok := s.pspec.window(k); ok && w >= s.pspec.start {
			s.windows = append(s.windows, filled{start: w, first: ts[0]})
		}
	}
	slices.SortFunc(s.windows, func(a, b filled) int { return cmp.Compare(a.start, b.start) })
}

// Partitioned reports whether the asset has a partitions spec the
// evaluator applies.
func (s *AssetState) Partitioned() bool { return s.pspec != nil }

// partitionDataTime is the data time as of t (partitions materialized at
// or before t). ok false: unknown, missing names the first partition
// (time) or the partitions (static) that are missing.
func (s *AssetState) partitionDataTime(t int64) (v int64, ok bool, missing string) {
	p := s.pspec
	if p.period == 0 {
		v = math.MaxInt64
		var miss []string
		for _, name := range p.values {
			ts := s.parts[name]
			k, found := slices.BinarySearch(ts, t)
			if found {
				k++
			}
			if k == 0 {
				miss = append(miss, name)
				continue
			}
			v = min(v, ts[k-1])
		}
		if len(miss) > 0 {
			if len(miss) > 3 {
				miss = append(miss[:3], "...")
			}
			return 0, false, strings.Join(miss, ", ")
		}
		return v, true, ""
	}
	next := p.start
	for _, w := range s.windows {
		if w.first > t {
			continue
		}
		if next == math.MinInt64 {
			next = w.start // the earliest partition seen
		}
		if w.start < next {
			continue
		}
		if w.start > next {
			break
		}
		next += p.period
	}
	switch {
	case next == math.MinInt64:
		return 0, false, ""
	case next == p.start:
		return 0, false, partitionKey(p.period, next)
	}
	return next, true, ""
}

// SetPartitions tells the tracker the asset's partitions (nil: none). It
// reports whether that changed. Unknown types and empty static lists are
// treated as unpartitioned (config rejects them).
func (t *Tracker) SetPartitions(k asset.Key, p *asset.PartitionsSpec) bool {
	s := t.get(k)
	ps := compilePartitions(p)
	if s.pspec.equal(ps) {
		return false
	}
	s.pspec = ps
	s.windows = nil
	if ps != nil && ps.period > 0 {
		s.indexWindows()
	}
	return true
}
