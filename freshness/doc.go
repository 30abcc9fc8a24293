// Package freshness decides whether each asset's data is fresh enough for its
// policy, and if not, why.
//
// The decision is a pure function, Evaluate, of (policy, now, the asset's
// status, the statuses along its limiting upstream chain), so every rule can
// be tested with a fake clock. Around it sit the parts that gather those
// inputs: a Tracker folds events into a short per-asset history (AssetState),
// and an Evaluator resolves data times over the lineage graph, walks the
// chains and calls Evaluate for every asset with a policy, either for the
// whole graph or for the downstream closure of a few changed assets. The
// loop that re-evaluates on events and on a timer, and records state changes,
// lives outside this package's pure core.
//
// The Tracker's history is a bounded cache that knows how far back it is
// complete. Where a data time needs more, the Evaluator reports a Miss
// instead of guessing, leaves out the results that depend on it, and Settle
// answers it from a History (the store) and re-evaluates: data times are a
// function of the event log alone, whatever memory holds, and never of key
// names or arrival order.
//
// The semantics (data time, lag, cron deadlines across DST, root cause,
// AT_RISK from runs in flight and cadence, partitions) are described in docs/freshness.md; the test scripts in testdata/
// are their executable form.
package freshness
