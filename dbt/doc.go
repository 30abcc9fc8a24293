// Package dbt maps dbt's artifacts (target/manifest.json,
// target/run_results.json and target/sources.json) to Freshet asset specs
// and events, so a dbt project shows up in the catalog, the lineage graph
// and freshness without a line of code.
//
// What it promises:
//
//   - manifest.json of schema v10, v11 and v12 (dbt 1.6 and later),
//     run_results.json v4 to v6 and sources.json v3 are read; any other
//     version is refused with an error naming metadata.dbt_schema_version
//     and the version found.
//
//   - Models, seeds and snapshots (the nodes) and sources become asset
//     specs keyed by the relation they build or read (Key), with their
//     dependencies, owners, tags, description, group, kinds, code version
//     (the file checksum) and columns; data tests become checks of the
//     asset they test. Source freshness criteria (error_after, warn_after)
//     become freshness policies.
//
//   - Run results become materializations (time, duration, rows affected,
//     the adapter response) or materialization failures; test results
//     become check results; source freshness results become observations
//     whose data time is max_loaded_at.
//
//   - Event ids are derived from the dbt invocation and the node, so
//     importing the same run_results.json twice stores its events once.
//
//   - Every problem is a *FieldError naming the artifact and the JSON path
//     of the offending value, such as
//     manifest: nodes["model.shop.orders"].depends_on.nodes[1].
//
//   - Column lineage, which the manifest does not have, is read from a
//     model's compiled SQL only where it is plain (inferColumns): select
//     items that are column references of relations the model depends on
//     and whose columns are declared. Anything else gives no lineage, never
//     a guess; the inferred inputs say so in their transformation.
//
// What it refuses to do: it maps no exposures, metrics, semantic models or
// unit tests, and it never deletes anything: a model removed from the
// project keeps its asset.
package dbt
