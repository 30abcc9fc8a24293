// Package pipes speaks the Dagster Pipes protocol (version 0.1), both sides
// of it: the orchestration side the executor uses to run a step's child
// (Session, Tail, Parse) and the external side `freshet report` uses inside
// one (ReadContext, ReadMessagesParams, Writer). Existing Pipes clients
// (dagster-pipes for Python, and the Rust, Java and TypeScript ports) work
// unchanged against it.
//
// The protocol, as Dagster defines it:
//
//   - the orchestrator starts the child with two environment variables,
//     DAGSTER_PIPES_CONTEXT and DAGSTER_PIPES_MESSAGES, each a JSON object
//     compressed with zlib and encoded in standard base64 (EncodeParam);
//   - the context parameter is {"path": FILE} (the context JSON is in FILE)
//     or {"data": CONTEXT} (inline). The context holds asset_keys,
//     code_version_by_asset_key, provenance_by_asset_key, partition_key,
//     partition_key_range, partition_time_window, run_id, job_name,
//     retry_number and extras; every key is present, null when unknown
//     (Python clients index them directly);
//   - the messages parameter is {"path": FILE} (the child appends one JSON
//     message per line to FILE) or {"stdio": "stderr"} / {"stdio":
//     "stdout"} (it writes them among its output lines);
//   - a message is {"__dagster_pipes_version": "0.1", "method": M,
//     "params": P}, M one of opened, closed ({"exception": {...}} when the
//     child failed), log ({"message", "level"}),
//     report_asset_materialization ({"asset_key", "data_version",
//     "metadata"}), report_asset_check ({"asset_key", "check_name",
//     "passed", "severity", "metadata"}), report_custom_message
//     ({"payload"}) and log_external_stream ({"stream", "text"});
//   - metadata values are {"raw_value": V, "type": T}, T one of Dagster's
//     metadata types or "__infer__" (see Metadata.Asset for how each
//     becomes an asset.MetaValue).
//
// What it promises: bytes from a child are untrusted. Parse never panics
// and rejects what is not a message of a known method with an error that
// says why; decoded parameters are bounded (MaxParamBytes), and lines on
// the file channel are bounded (MaxLineBytes: a longer line reaches the
// caller cut short, so it fails to parse). Tail delivers every complete
// line appended while the child runs, then what is left once it is told
// the child is gone, including a last line without its newline.
//
// What it refuses: the blob-store channels (S3, GCS, Azure, DBFS) and the
// buffered-chunk file channel, which need an orchestrator that is not on
// this machine's filesystem; data provenance (sent as null); and
// include_stdio_in_messages (the executor already captures stdout and
// stderr).
package pipes
