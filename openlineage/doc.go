// Package openlineage reads OpenLineage events (spec 2.x: RunEvent,
// DatasetEvent and JobEvent) and maps them to Freshet events, so that
// Airflow, Spark, dbt, Flink and every other OpenLineage producer can
// report to Freshet without a Freshet client.
//
// What it promises:
//
//   - Every required field is checked, and every problem is reported as
//     a FieldError naming its JSON path ("run.runId", "outputs[1].name",
//     "[3].eventTime" in a JSON array, with the line in NDJSON), not as
//     "bad request".
//   - What real producers send is accepted: no schemaURL, either
//     "#/definitions/" or "#/$defs/" fragments, times without a zone (read
//     as UTC) or with more digits than nanoseconds, facets without
//     _producer or _schemaURL, facets nobody here knows (kept, in the raw
//     event), unknown top-level members.
//   - A dataset becomes the asset DatasetKey(namespace, name), a key that
//     ParseDatasetKey turns back into the namespace and name exactly.
//   - A run's inputs become the upstream of each of its outputs' events,
//     so Freshet's observed lineage follows the run; the job is named in
//     the events' metadata.
//   - The OpenLineage event is kept whole (metadata "openlineage",
//     compact JSON) on the event of its first output, once, so that what
//     a request stores stays in proportion to its size; each Freshet
//     event's id is derived from the run, the event type, the time and
//     the asset, so a client's retry is stored once.
//
// What it refuses to do: it keeps no state between events (a COMPLETE
// that lists no outputs says nothing about the START's outputs), it does
// not map column lineage yet (the columnLineage facet is kept in the raw
// event only), and it never invents a time: an event without eventTime is
// an error, not "now". docs/openlineage.md has the whole mapping.
package openlineage
