package openlineage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/valyala/fastjson"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/ingest"
)

// The eventType values of a RunEvent.
const (
	Start    = "START"
	Running  = "RUNNING"
	Complete = "COMPLETE"
	Abort    = "ABORT"
	Fail     = "FAIL"
	Other    = "OTHER"
)

var eventTypes = []string{Start, Running, Complete, Abort, Fail, Other}

// class is which of the three OpenLineage events an event is.
type class uint8

const (
	runEvent class = iota
	jobEvent
	datasetEvent
)

func (c class) String() string {
	return [...]string{"RunEvent", "JobEvent", "DatasetEvent"}[c]
}

// olEvent is a validated OpenLineage event, reduced to what the mapping
// to Freshet events needs.
type olEvent struct {
	class     class
	time      time.Time
	eventType string // RunEvent only, upper case
	runID     string // RunEvent only, a canonical UUID
	job       string // namespace and name, for the ids
	inputs    []asset.Key
	outputs   []dataset // a DatasetEvent's dataset is its one output
	meta      asset.Metadata
	streaming bool // the job says it is a streaming job, or reports checkpoints
}

// dataset is an output (or a DatasetEvent's dataset): its key and what
// its facets say.
type dataset struct {
	key  asset.Key
	meta asset.Metadata
}

// present is v, or nil when v is absent or null: a null member counts as
// left out, as producers write them.
func present(v *fastjson.Value) *fastjson.Value {
	if v == nil || v.Type() == fastjson.TypeNull {
		return nil
	}
	return v
}

// walk validates one parsed event, recording every problem, and returns
// what mapping needs (nil when it is not even an object).
func (d *decoder) walk(v *fastjson.Value) *olEvent {
	o, err := v.Object()
	if err != nil {
		d.fail("invalid_json", "", "an OpenLineage event must be a JSON object, not %s", typeName(v))
		return nil
	}
	get := func(name string) *fastjson.Value { return present(o.Get(name)) }
	ev := &olEvent{meta: asset.Metadata{}}
	schemaURL := get("schemaURL")
	ev.class = classify(get("run") != nil, get("job") != nil, get("dataset") != nil, get("eventType") != nil,
		string(schemaURL.GetStringBytes()))

	ev.time = d.time(get("eventTime"), "eventTime")
	switch ev.class {
	case runEvent:
		ev.eventType = d.eventType(get("eventType"))
		d.run(ev, get("run"))
		d.job(ev, get("job"))
		d.datasets(ev, get("inputs"), get("outputs"))
	case jobEvent:
		d.job(ev, get("job"))
		d.datasets(ev, get("inputs"), get("outputs"))
	case datasetEvent:
		if ds, ok := d.dataset(get("dataset"), "dataset", true, "required for a DatasetEvent: {\"namespace\": ..., \"name\": ..., \"facets\": {...}}"); ok {
			ev.outputs = append(ev.outputs, ds)
		}
	}
	if p := d.str(get("producer"), "producer", "required: a URI naming the producer, e.g. https://github.com/OpenLineage/OpenLineage/tree/1.40.0/integration/airflow"); p != "" {
		setText(ev.meta, "producer", p)
	}
	d.str(schemaURL, "schemaURL", "") // any string: producers write many versions and both fragment forms
	if ev.class == runEvent {
		setText(ev.meta, "event_type", ev.eventType)
	}
	return ev
}

// classify tells the three events apart as the schema does: a run makes
// a RunEvent. Without one, a schemaURL fragment naming one of the three
// ("#/$defs/JobEvent", or the older "#/definitions/JobEvent") decides;
// else an eventType makes a RunEvent (one that lost its run), a job a
// JobEvent, a dataset a DatasetEvent. With none of them it is a RunEvent,
// so that the errors name what a RunEvent lacks.
func classify(run, job, ds, eventType bool, schemaURL string) class {
	if run {
		return runEvent
	}
	_, frag, _ := strings.Cut(schemaURL, "#")
	frag = strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(frag, "/"), "$defs/"), "definitions/")
	switch frag {
	case "RunEvent":
		return runEvent
	case "JobEvent":
		return jobEvent
	case "DatasetEvent":
		return datasetEvent
	}
	switch {
	case eventType:
		return runEvent
	case job:
		return jobEvent
	case ds:
		return datasetEvent
	}
	return runEvent
}

// str reads an optional string member; with a hint it is required (and
// must not be empty), and hint is the message when it is missing.
func (d *decoder) str(v *fastjson.Value, field, hint string) string {
	if v == nil {
		if hint != "" {
			d.fail("missing_field", field, "%s", hint)
		}
		return ""
	}
	b, err := v.StringBytes()
	switch {
	case err != nil:
		d.fail("invalid_value", field, "must be a string, not %s", typeName(v))
		return ""
	case !utf8.Valid(b):
		d.fail("invalid_value", field, "is not valid UTF-8")
		return ""
	case len(b) == 0 && hint != "":
		d.fail("invalid_value", field, "must not be empty")
	}
	return string(b)
}

// object reads an optional object member (nil when absent or null).
func (d *decoder) object(v *fastjson.Value, field string) *fastjson.Object {
	if v == nil {
		return nil
	}
	o, err := v.Object()
	if err != nil {
		d.fail("invalid_value", field, "must be an object, not %s", typeName(v))
		return nil
	}
	return o
}

// facet returns a known facet of a facets object: nil when absent, null
// or deleted ("_deleted": true). A facet must be an object; its
// _producer and _schemaURL are not required.
func (d *decoder) facet(facets *fastjson.Object, name, field string) *fastjson.Object {
	if facets == nil {
		return nil
	}
	f := d.object(present(facets.Get(name)), field+"."+name)
	if f != nil && f.Get("_deleted") != nil && f.Get("_deleted").Type() == fastjson.TypeTrue {
		return nil
	}
	return f
}

// member is a present member of an object that may be nil.
func member(o *fastjson.Object, name string) *fastjson.Value {
	if o == nil {
		return nil
	}
	return present(o.Get(name))
}

func (d *decoder) time(v *fastjson.Value, field string) time.Time {
	s := d.str(v, field, "required: when the event happened, e.g. 2026-11-25T08:00:00.000Z")
	if s == "" {
		return time.Time{}
	}
	t, ok := parseTime(s)
	switch {
	case !ok:
		d.fail("invalid_value", field, "%s is not a date-time such as 2026-11-25T08:00:00.123Z or 2026-11-25T09:00:00+01:00", quote(s))
	case t.Before(minTime) || t.After(maxTime):
		d.fail("invalid_value", field, "%s is outside 1970-2262", quote(s))
	case t.After(d.now.Add(ingest.MaxClockSkew)):
		d.fail("invalid_value", field, "%s is in the future (server time is %s): check the producer's clock", quote(s), d.now.Format(time.RFC3339))
	default:
		return t
	}
	return time.Time{}
}

var (
	minTime = time.Unix(0, 0).UTC()
	maxTime = time.Unix(0, 1<<63-1).UTC()
)

func (d *decoder) eventType(v *fastjson.Value) string {
	s := d.str(v, "eventType", "required for a RunEvent: one of "+strings.Join(eventTypes, ", "))
	if s == "" {
		return ""
	}
	for _, t := range eventTypes {
		if strings.EqualFold(s, t) {
			return t
		}
	}
	d.fail("invalid_value", "eventType", "must be one of %s, not %s", strings.Join(eventTypes, ", "), quote(s))
	return ""
}

func (d *decoder) run(ev *olEvent, v *fastjson.Value) {
	if v == nil {
		d.fail("missing_field", "run", `required for a RunEvent: {"runId": "<UUID>", "facets": {...}}`)
		return
	}
	run := d.object(v, "run")
	if run == nil {
		return
	}
	if id := d.str(member(run, "runId"), "run.runId", "required: the run's UUID"); id != "" {
		u, err := uuid.Parse(id)
		if err != nil {
			d.fail("invalid_value", "run.runId", "must be a UUID such as 0193a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b, not %s", quote(id))
		} else {
			ev.runID = u.String()
		}
	}
	facets := d.object(member(run, "facets"), "run.facets")
	const p = "run.facets"
	if f := d.facet(facets, "errorMessage", p); f != nil {
		setText(ev.meta, "error_message", d.str(member(f, "message"), p+".errorMessage.message", ""))
	}
	if f := d.facet(facets, "parent", p); f != nil {
		d.runAndJob(ev.meta, f, p+".parent", "parent_")
		if root := d.object(member(f, "root"), p+".parent.root"); root != nil {
			d.runAndJob(ev.meta, root, p+".parent.root", "root_")
		}
	}
	if f := d.facet(facets, "nominalTime", p); f != nil {
		setText(ev.meta, "nominal_start_time", d.str(member(f, "nominalStartTime"), p+".nominalTime.nominalStartTime", ""))
		setText(ev.meta, "nominal_end_time", d.str(member(f, "nominalEndTime"), p+".nominalTime.nominalEndTime", ""))
	}
	// Flink reports each completed checkpoint in a RUNNING event: the
	// point at which its sinks commit what they wrote.
	if member(facets, "checkpoints") != nil {
		ev.streaming = true
	}
}

// runAndJob reads the run id and job of a parent facet (or of its root)
// into metadata named with prefix: parent_run_id, parent_job_namespace,
// parent_job_name. Each is optional (Spark sends a parent job without a
// run).
func (d *decoder) runAndJob(meta asset.Metadata, o *fastjson.Object, field, prefix string) {
	if r := d.object(member(o, "run"), field+".run"); r != nil {
		setText(meta, prefix+"run_id", d.str(member(r, "runId"), field+".run.runId", ""))
	}
	if j := d.object(member(o, "job"), field+".job"); j != nil {
		setText(meta, prefix+"job_namespace", d.str(member(j, "namespace"), field+".job.namespace", ""))
		setText(meta, prefix+"job_name", d.str(member(j, "name"), field+".job.name", ""))
	}
}

func (d *decoder) job(ev *olEvent, v *fastjson.Value) {
	if v == nil {
		d.fail("missing_field", "job", `required: {"namespace": ..., "name": ...}`)
		return
	}
	job := d.object(v, "job")
	if job == nil {
		return
	}
	ns := d.str(member(job, "namespace"), "job.namespace", "required: the namespace of the job, e.g. the scheduler's")
	name := d.str(member(job, "name"), "job.name", "required: the job's name within its namespace")
	setText(ev.meta, "job_namespace", ns)
	setText(ev.meta, "job_name", name)
	ev.job = ns + "\x00" + name
	facets := d.object(member(job, "facets"), "job.facets")
	if f := d.facet(facets, "jobType", "job.facets"); f != nil {
		const p = "job.facets.jobType"
		pt := d.str(member(f, "processingType"), p+".processingType", "")
		setText(ev.meta, "processing_type", pt)
		setText(ev.meta, "integration", d.str(member(f, "integration"), p+".integration", ""))
		setText(ev.meta, "job_type", d.str(member(f, "jobType"), p+".jobType", ""))
		if strings.EqualFold(pt, "STREAMING") {
			ev.streaming = true
		}
	}
}

// datasets reads a RunEvent's or JobEvent's inputs and outputs.
func (d *decoder) datasets(ev *olEvent, inputs, outputs *fastjson.Value) {
	var seen map[asset.Key]bool
	for i, item := range d.array(inputs, "inputs") {
		ds, ok := d.dataset(item, fmt.Sprintf("inputs[%d]", i), false, "")
		if !ok || seen[ds.key] {
			continue
		}
		if seen == nil {
			seen = make(map[asset.Key]bool)
		}
		seen[ds.key] = true
		ev.inputs = append(ev.inputs, ds.key)
	}
	seen = nil
	for i, item := range d.array(outputs, "outputs") {
		ds, ok := d.dataset(item, fmt.Sprintf("outputs[%d]", i), true, "")
		if !ok || seen[ds.key] {
			continue // an output listed twice is one asset's one event
		}
		if seen == nil {
			seen = make(map[asset.Key]bool)
		}
		seen[ds.key] = true
		ev.outputs = append(ev.outputs, ds)
	}
}

func (d *decoder) array(v *fastjson.Value, field string) []*fastjson.Value {
	if v == nil {
		return nil
	}
	items, err := v.Array()
	if err != nil {
		d.fail("invalid_value", field, "must be an array of datasets, not %s", typeName(v))
		return nil
	}
	if len(items) > MaxDatasets {
		d.fail("invalid_value", field, "lists %d datasets; at most %d are allowed", len(items), MaxDatasets)
		return nil
	}
	return items
}

// dataset reads one dataset. An output's (or a DatasetEvent's) facets
// become metadata; an input's are only checked for their shape.
func (d *decoder) dataset(v *fastjson.Value, field string, output bool, missing string) (dataset, bool) {
	if v == nil {
		if missing != "" {
			d.fail("missing_field", field, "%s", missing)
		}
		return dataset{}, false
	}
	o := d.object(v, field)
	if o == nil {
		return dataset{}, false
	}
	ns := d.str(member(o, "namespace"), field+".namespace", "required: the dataset's data source, e.g. postgres://db:5432 or s3://bucket")
	name := d.str(member(o, "name"), field+".name", "required: the dataset's name within its namespace, e.g. db.schema.table")
	facets := d.object(member(o, "facets"), field+".facets")
	ds := dataset{}
	if output {
		ds.meta = asset.Metadata{}
		d.datasetFacets(ds.meta, facets, field+".facets")
		if field != "dataset" {
			d.outputFacets(ds.meta, d.object(member(o, "outputFacets"), field+".outputFacets"), field+".outputFacets")
		}
	} else {
		d.object(member(o, "inputFacets"), field+".inputFacets")
	}
	if ns == "" || name == "" {
		return dataset{}, false
	}
	key, err := DatasetKey(ns, name)
	if err != nil {
		d.fail("invalid_value", field+".name", "%s", keyError(err))
		return dataset{}, false
	}
	ds.key = key
	return ds, true
}

// datasetFacets maps the schema facet to "columns" (its fields, as sent)
// and the dataSource facet to "data_source" (the URI) and
// "data_source_name".
func (d *decoder) datasetFacets(meta asset.Metadata, facets *fastjson.Object, field string) {
	if f := d.facet(facets, "schema", field); f != nil {
		if v := member(f, "fields"); v != nil {
			if v.Type() != fastjson.TypeArray {
				d.fail("invalid_value", field+".schema.fields", "must be an array of fields, not %s", typeName(v))
			} else if raw, ok := compactJSON(v); ok {
				meta["columns"] = asset.JSONValue(raw)
			}
		}
	}
	if f := d.facet(facets, "dataSource", field); f != nil {
		setText(meta, "data_source", d.str(member(f, "uri"), field+".dataSource.uri", ""))
		setText(meta, "data_source_name", d.str(member(f, "name"), field+".dataSource.name", ""))
	}
	if f := d.facet(facets, "columnLineage", field); f != nil {
		d.columnLineage(meta, f, field+".columnLineage")
	}
}

// columnLineage maps the columnLineage facet's fields to the
// column_lineage metadata (asset.ColumnLineage): each output column with
// its input columns, the inputs' datasets named by their asset keys, and
// the transformation as "TYPE/SUBTYPE" (spec 1-2 of the facet) or the
// older transformationType. The facet's dataset-level inputs (columns
// that affect the whole dataset, such as filters) are not column lineage
// of any one column and are left out.
func (d *decoder) columnLineage(meta asset.Metadata, f *fastjson.Object, field string) {
	fields := d.object(member(f, "fields"), field+".fields")
	if fields == nil {
		return
	}
	cl := asset.ColumnLineage{}
	fields.Visit(func(col []byte, v *fastjson.Value) {
		if len(cl) >= asset.MaxColumns {
			return
		}
		p := field + ".fields." + string(col)
		o := d.object(v, p)
		if o == nil {
			return
		}
		var ins []asset.ColumnInput
		var inputs []*fastjson.Value
		if v := member(o, "inputFields"); v != nil {
			var err error
			if inputs, err = v.Array(); err != nil {
				d.fail("invalid_value", p+".inputFields", "must be an array of input fields, not %s", typeName(v))
			}
		}
		for i, in := range inputs {
			q := fmt.Sprintf("%s.inputFields[%d]", p, i)
			io := d.object(in, q)
			if io == nil {
				continue
			}
			ns := d.str(member(io, "namespace"), q+".namespace", "required: the input dataset's namespace")
			name := d.str(member(io, "name"), q+".name", "required: the input dataset's name")
			column := d.str(member(io, "field"), q+".field", "required: the input column's name")
			if ns == "" || name == "" || column == "" {
				continue
			}
			key, err := DatasetKey(ns, name)
			if err != nil {
				d.fail("invalid_value", q+".name", "%s", keyError(err))
				continue
			}
			ins = append(ins, asset.ColumnInput{ColumnRef: asset.ColumnRef{Asset: key, Column: column}, Transformation: d.transformation(io, o, q)})
			if len(ins) == asset.MaxColumnInputs {
				break
			}
		}
		if string(col) != "" && len(ins) > 0 {
			cl[string(col)] = ins
		}
	})
	if len(cl) == 0 {
		return
	}
	if v, err := asset.ColumnLineageValue(cl); err == nil {
		meta[asset.ColumnLineageKey] = v
	}
}

// transformation is an input field's first transformation as
// "TYPE/SUBTYPE" (e.g. DIRECT/AGGREGATION), or the column's older
// transformationType (e.g. IDENTITY); "" when neither is given.
func (d *decoder) transformation(in, col *fastjson.Object, field string) string {
	if ts := member(in, "transformations"); ts != nil {
		items, err := ts.Array()
		if err != nil {
			d.fail("invalid_value", field+".transformations", "must be an array, not %s", typeName(ts))
			return ""
		}
		if len(items) > 0 {
			t := d.object(items[0], field+".transformations[0]")
			if t == nil {
				return ""
			}
			typ := d.str(member(t, "type"), field+".transformations[0].type", "")
			if sub := d.str(member(t, "subtype"), field+".transformations[0].subtype", ""); sub != "" {
				return typ + "/" + sub
			}
			return typ
		}
	}
	return d.str(member(col, "transformationType"), field+".transformationType", "")
}

// outputFacets maps outputStatistics: rowCount to row_count (the
// catalog's row count), size to size_bytes, fileCount to file_count.
func (d *decoder) outputFacets(meta asset.Metadata, facets *fastjson.Object, field string) {
	f := d.facet(facets, "outputStatistics", field)
	if f == nil {
		return
	}
	p := field + ".outputStatistics"
	for _, m := range []struct{ from, to string }{{"rowCount", asset.RowCountKey}, {"size", "size_bytes"}, {"fileCount", "file_count"}} {
		v := member(f, m.from)
		if v == nil {
			continue
		}
		n, err := v.Int64()
		if v.Type() != fastjson.TypeNumber || err != nil || n < 0 {
			d.fail("invalid_value", p+"."+m.from, "must be a non-negative integer, not %s", v.String())
			continue
		}
		meta[m.to] = asset.Int(n)
	}
}

// compactJSON is v as compact JSON (v comes from an event already held
// to JSON's grammar).
func compactJSON(v *fastjson.Value) (string, bool) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, v.MarshalTo(nil)); err != nil {
		return "", false
	}
	return buf.String(), true
}

// setText sets a text (or, for "scheme://..." values, url) metadata
// value; an empty one is left out.
func setText(meta asset.Metadata, name, s string) {
	switch {
	case s == "":
	case asset.LooksLikeURL(s):
		meta[name] = asset.URL(s)
	default:
		meta[name] = asset.Text(s)
	}
}
