package openlineage

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"maps"

	"github.com/freshet-dev/freshet/asset"
)

// RawKey is the metadata name under which each Freshet event keeps the
// OpenLineage event it came from, as compact JSON.
const RawKey = "openlineage"

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
// upstream), the event's and the output's metadata, and raw, the
// OpenLineage event as compact JSON.
func (ev *olEvent) appendEvents(out []asset.Event, raw string) []asset.Event {
	if len(ev.outputs) == 0 {
		return out
	}
	ev.meta[RawKey] = asset.JSONValue(raw)
	kind := ev.kind()
	for _, o := range ev.outputs {
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
