package openlineage

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"maps"

	"github.com/freshet-dev/freshet/asset"
)

// RawKey is the metadata name under which a Freshet event keeps the
// OpenLineage event it came from, as compact JSON: on the event of the
// first output. The events of the other outputs name that one in RefKey,
// {"id": ..., "asset": ...}, so a request's stored bytes stay in
// proportion to its size however many outputs its events list.
const (
	RawKey = "openlineage"
	RefKey = "openlineage_ref"
)

// kind is the Freshet event kind of the event's outputs:
//
//	START                              run_started (a run in flight)
//	RUNNING of a batch job             run_started
//	RUNNING of a streaming job         materialization (data is flowing)
//	COMPLETE                           materialization
//	FAIL, ABORT                        materialization_failed
//	OTHER, JobEvent, DatasetEvent      observation
func (ev *olEvent) kind() asset.Kind {
	switch ev.class {
	case jobEvent, datasetEvent:
		return asset.KindObservation
	}
	switch ev.eventType {
	case Start:
		return asset.KindRunStarted
	case Running:
		if ev.streaming {
			return asset.KindMaterialization
		}
		return asset.KindRunStarted
	case Complete:
		return asset.KindMaterialization
	case Fail, Abort:
		return asset.KindMaterializationFailed
	}
	return asset.KindObservation
}

// appendEvents appends one Freshet event per output (for a DatasetEvent:
// its dataset), each with the inputs as upstream (less the output itself:
// a job that reads and rewrites a table does not make it its own
// upstream) and the event's and the output's metadata; the first also
// raw, the OpenLineage event as compact JSON, and the others a reference
// to the first.
func (ev *olEvent) appendEvents(out []asset.Event, raw string) []asset.Event {
	if len(ev.outputs) == 0 {
		return out
	}
	kind := ev.kind()
	first := len(out)
	for i, o := range ev.outputs {
		if i == 1 {
			ref, _ := json.Marshal(struct {
				ID    string    `json:"id"`
				Asset asset.Key `json:"asset"`
			}{out[first].ID, out[first].Asset})
			ev.meta[RefKey] = asset.JSONValue(string(ref))
		}
		e := asset.Event{
			ID:       ev.id(o.key),
			Kind:     kind,
			Asset:    o.key,
			Time:     ev.time,
			RunID:    ev.runID,
			Upstream: upstream(ev.inputs, o.key),
			Metadata: maps.Clone(ev.meta),
		}
		maps.Copy(e.Metadata, o.meta)
		if i == 0 {
			e.Metadata[RawKey] = asset.JSONValue(raw)
		}
		out = append(out, e)
	}
	return out
}

func upstream(inputs []asset.Key, output asset.Key) []asset.Key {
	if len(inputs) == 0 {
		return nil
	}
	out := make([]asset.Key, 0, len(inputs))
	for _, k := range inputs {
		if k != output {
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// id is the Freshet event id of the event's output k: "ol-" and 128 bits
// of a SHA-256 over what makes the event itself (which event, run, job,
// type and time) and the asset. A producer's retry of the same event
// gets the same ids, so it is stored once; two events of a run differ
// in type or time.
func (ev *olEvent) id(k asset.Key) string {
	h := sha256.New()
	var b [9]byte
	b[0] = byte(ev.class)
	binary.BigEndian.PutUint64(b[1:], uint64(ev.time.UnixNano()))
	h.Write(b[:])
	for _, s := range []string{ev.runID, ev.eventType, ev.job, string(k)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	var sum [sha256.Size]byte
	return "ol-" + hex.EncodeToString(h.Sum(sum[:0])[:16])
}
