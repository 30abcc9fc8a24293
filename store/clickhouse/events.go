package clickhouse

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/freshet-dev/freshet/asset"
)

// eventColumns holds a batch of events column by column, in the order of
// insertEventCols. Appending whole columns is cheaper than a row at a time:
// clickhouse-go converts each row's values through reflection otherwise.
type eventColumns struct {
	id, kind, asset []string
	time            []time.Time
	timeNS          []int64
	runID, part     []string
	dataTimeNS      []int64
	hasDataTime     []uint8
	upstream        [][]string
	rowCount        []*int64
	metadata        []string
	hasCheck        []uint8
	checkName       []string
	checkPassed     []uint8
	checkSeverity   []string

	// Backing arrays the rows' upstream lists and row counts point into,
	// and the metadata encoding buffer: one allocation per batch instead
	// of one per event. Growing them leaves earlier rows pointing into the
	// old array, which stays valid. The metadata of every row is encoded
	// into buf (metaEnd[i] is where row i's ends), and the metadata column
	// made of one string of it when the columns are taken.
	upArena []string
	rcArena []int64
	buf     []byte
	metaEnd []int
	names   []string // scratch for sorting a row's metadata names
}

// reset empties the columns, keeping room for n rows.
func (c *eventColumns) reset(n int) {
	*c = eventColumns{
		id: make([]string, 0, n), kind: make([]string, 0, n), asset: make([]string, 0, n),
		time: make([]time.Time, 0, n), timeNS: make([]int64, 0, n),
		runID: make([]string, 0, n), part: make([]string, 0, n),
		dataTimeNS: make([]int64, 0, n), hasDataTime: make([]uint8, 0, n),
		upstream: make([][]string, 0, n), rowCount: make([]*int64, 0, n),
		metaEnd: make([]int, 0, n), hasCheck: make([]uint8, 0, n),
		checkName: make([]string, 0, n), checkPassed: make([]uint8, 0, n),
		checkSeverity: make([]string, 0, n),
		upArena:       make([]string, 0, n), rcArena: make([]int64, 0, n),
		buf: c.buf[:0], names: c.names[:0],
	}
}

// build resets the columns to hold events.
func (c *eventColumns) build(events []asset.Event) error {
	c.reset(len(events))
	for i := range events {
		if err := c.add(&events[i]); err != nil {
			return fmt.Errorf("clickhouse: event %s: %w", events[i].ID, err)
		}
	}
	return nil
}

func (c *eventColumns) add(e *asset.Event) error {
	ns := e.Time.UnixNano()
	c.id = append(c.id, e.ID)
	c.kind = append(c.kind, string(e.Kind))
	c.asset = append(c.asset, string(e.Asset))
	c.time = append(c.time, time.Unix(dateTimeSec(ns), 0))
	c.timeNS = append(c.timeNS, ns)
	c.runID = append(c.runID, e.RunID)
	c.part = append(c.part, e.Partition)
	if e.DataTime != nil {
		c.dataTimeNS = append(c.dataTimeNS, e.DataTime.UnixNano())
		c.hasDataTime = append(c.hasDataTime, 1)
	} else {
		c.dataTimeNS = append(c.dataTimeNS, 0)
		c.hasDataTime = append(c.hasDataTime, 0)
	}
	var up []string
	if len(e.Upstream) > 0 {
		start := len(c.upArena)
		for _, k := range e.Upstream {
			c.upArena = append(c.upArena, string(k))
		}
		up = c.upArena[start:len(c.upArena):len(c.upArena)]
	}
	c.upstream = append(c.upstream, up)
	var rc *int64
	if n, ok := e.Metadata.RowCount(); ok {
		c.rcArena = append(c.rcArena, n)
		rc = &c.rcArena[len(c.rcArena)-1]
	}
	c.rowCount = append(c.rowCount, rc)
	if len(e.Metadata) > 0 {
		var err error
		if c.buf, c.names, err = appendMetadata(c.buf, c.names, e.Metadata); err != nil {
			c.buf = c.buf[:c.metaStart()] // this row is not added
			return fmt.Errorf("metadata: %w", err)
		}
	}
	c.metaEnd = append(c.metaEnd, len(c.buf))
	if e.Check != nil {
		c.hasCheck = append(c.hasCheck, 1)
		c.checkName = append(c.checkName, e.Check.Name)
		c.checkPassed = append(c.checkPassed, boolByte(e.Check.Passed))
		c.checkSeverity = append(c.checkSeverity, string(e.Check.Severity))
	} else {
		c.hasCheck = append(c.hasCheck, 0)
		c.checkName = append(c.checkName, "")
		c.checkPassed = append(c.checkPassed, 0)
		c.checkSeverity = append(c.checkSeverity, "")
	}
	return nil
}

// metaStart is where the next row's metadata starts in buf.
func (c *eventColumns) metaStart() int {
	if len(c.metaEnd) == 0 {
		return 0
	}
	return c.metaEnd[len(c.metaEnd)-1]
}

// columns returns rows [lo, hi) of the columns, in insertEventCols order.
func (c *eventColumns) columns(lo, hi int) []any {
	if len(c.metadata) != len(c.metaEnd) {
		all := string(c.buf) // one copy for the batch; rows are substrings
		c.metadata = make([]string, len(c.metaEnd))
		start := 0
		for i, end := range c.metaEnd {
			c.metadata[i] = all[start:end]
			start = end
		}
	}
	return []any{c.id[lo:hi], c.kind[lo:hi], c.asset[lo:hi], c.time[lo:hi], c.timeNS[lo:hi], c.runID[lo:hi], c.part[lo:hi],
		c.dataTimeNS[lo:hi], c.hasDataTime[lo:hi], c.upstream[lo:hi], c.rowCount[lo:hi], c.metadata[lo:hi],
		c.hasCheck[lo:hi], c.checkName[lo:hi], c.checkPassed[lo:hi], c.checkSeverity[lo:hi]}
}

// flushRows is how many rows go to the server at a time (Flush): the
// driver's column buffers, reset by each Flush, are reused from one block
// to the next instead of growing to the whole batch. A 50,000-row insert
// allocated 120 MB in the driver that way, 50 MB now, and took a fifth
// less time (BenchmarkAppend). The server still writes one part per
// insert: it squashes the blocks of an INSERT up to
// min_insert_block_size_rows, about a million (TestOnePartPerInsert).
const flushRows = 8192

// appendTo sends the columns to b, flushRows at a time.
func (c *eventColumns) appendTo(b driver.Batch) error {
	n := len(c.id)
	for lo := 0; lo < n; lo += flushRows {
		hi := min(lo+flushRows, n)
		for i, col := range c.columns(lo, hi) {
			if err := b.Column(i).Append(col); err != nil {
				return fmt.Errorf("column %d: %w", i, err)
			}
		}
		if hi < n {
			if err := b.Flush(); err != nil {
				return fmt.Errorf("send rows %d-%d: %w", lo, hi, err)
			}
		}
	}
	return nil
}

// eventRow converts one event to the values of an insertEventCols row.
func eventRow(e asset.Event) ([]any, error) {
	var c eventColumns
	c.reset(1)
	if err := c.add(&e); err != nil {
		return nil, err
	}
	row := c.columns(0, 1)
	for i, col := range row {
		switch v := col.(type) {
		case []string:
			row[i] = v[0]
		case []time.Time:
			row[i] = v[0]
		case []int64:
			row[i] = v[0]
		case []uint8:
			row[i] = v[0]
		case [][]string:
			row[i] = v[0]
		case []*int64:
			row[i] = v[0]
		default:
			return nil, fmt.Errorf("column %d: unexpected type %T", i, col)
		}
	}
	return row, nil
}

// dateTimeSec is the value of the DateTime column for a time in
// nanoseconds: whole seconds (floored), clamped to the UInt32 range the
// type holds. Clamping keeps the order, so bounds on time_ns imply the same
// bounds on time.
func dateTimeSec(ns int64) int64 {
	sec := ns / 1e9
	if ns%1e9 < 0 {
		sec--
	}
	return max(0, min(sec, math.MaxUint32))
}

// appendMetadata appends the JSON object json.Marshal makes of m (names
// sorted), without its reflection: on 50,000-event batches encoding/json
// was a fifth of AppendEvents' CPU time. names is scratch space for the
// sorted names, returned for reuse.
func appendMetadata(b []byte, names []string, m asset.Metadata) ([]byte, []string, error) {
	names = names[:0]
	for name := range m {
		names = append(names, name)
	}
	slices.Sort(names)
	b = append(b, '{')
	for i, name := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, name)
		b = append(b, ':')
		switch v := m[name]; v.Type {
		case asset.MetaText, asset.MetaURL:
			b = appendJSONString(b, v.Text)
		case asset.MetaInt:
			b = strconv.AppendInt(b, v.Int, 10)
		default:
			raw, err := v.MarshalJSON()
			if err != nil {
				return b, names, fmt.Errorf("%s: %w", name, err)
			}
			b = append(b, raw...)
		}
	}
	return append(b, '}'), names, nil
}

// appendJSONString quotes s as JSON. Printable ASCII other than the
// characters encoding/json escapes is copied as is; anything else goes
// through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func boolByte(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// eventRecord is an event as read from ClickHouse.
type eventRecord struct {
	id, kind, asset string
	timeNS          int64
	runID, part     string
	dataTimeNS      int64
	hasDataTime     uint8
	upstream        []string
	metadata        string
	hasCheck        uint8
	checkName       string
	checkPassed     uint8
	checkSeverity   string
}

// dest returns scan targets in eventCols order.
func (r *eventRecord) dest() []any {
	return []any{&r.id, &r.kind, &r.asset, &r.timeNS, &r.runID, &r.part, &r.dataTimeNS, &r.hasDataTime,
		&r.upstream, &r.metadata, &r.hasCheck, &r.checkName, &r.checkPassed, &r.checkSeverity}
}

// aggDest returns scan targets for the tuple the summaries query selects
// (eventCols without kind and asset, which are its group keys).
func (r *eventRecord) aggDest() []any {
	return []any{&r.id, &r.timeNS, &r.runID, &r.part, &r.dataTimeNS, &r.hasDataTime,
		&r.upstream, &r.metadata, &r.hasCheck, &r.checkName, &r.checkPassed, &r.checkSeverity}
}

func (r *eventRecord) event() (asset.Event, error) {
	e := asset.Event{
		ID:        r.id,
		Kind:      asset.Kind(r.kind),
		Asset:     asset.Key(r.asset),
		Time:      time.Unix(0, r.timeNS).UTC(),
		RunID:     r.runID,
		Partition: r.part,
	}
	if r.hasDataTime != 0 {
		t := time.Unix(0, r.dataTimeNS).UTC()
		e.DataTime = &t
	}
	if len(r.upstream) > 0 {
		e.Upstream = make([]asset.Key, len(r.upstream))
		for i, k := range r.upstream {
			e.Upstream[i] = asset.Key(k)
		}
	}
	if r.metadata != "" {
		if err := json.Unmarshal([]byte(r.metadata), &e.Metadata); err != nil {
			return asset.Event{}, fmt.Errorf("event %s metadata: %w", r.id, err)
		}
	}
	if r.hasCheck != 0 {
		e.Check = &asset.CheckResult{Name: r.checkName, Passed: r.checkPassed != 0, Severity: asset.Severity(r.checkSeverity)}
	}
	return e, nil
}

// sampleEvent has every field set; tests and allStatements use it.
func sampleEvent() asset.Event {
	t := time.Date(2026, 11, 23, 10, 30, 0, 123456789, time.UTC)
	dt := t.Add(-time.Hour)
	return asset.Event{
		ID:        "01JSAMPLE",
		Kind:      asset.KindCheckResult,
		Asset:     "warehouse/orders",
		Time:      t,
		RunID:     "run-1",
		Partition: "2026-11-23",
		DataTime:  &dt,
		Upstream:  []asset.Key{"raw/orders", "raw/customers"},
		Metadata:  asset.Metadata{"row_count": asset.Int(42), "path": asset.URL("s3://bucket/orders"), "ratio": asset.Float(0.5)},
		Check:     &asset.CheckResult{Name: "not_null", Passed: true, Severity: asset.SeverityWarn},
	}
}
