package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/freshet-dev/freshet/dbt"
)

// dbtImported is the 201 answer of POST /api/v1/dbt/import.
type dbtImported struct {
	Project          string   `json:"project"`
	Assets           int      `json:"assets"`
	Checks           int      `json:"checks"`
	ColumnLineage    int      `json:"column_lineage"`
	Materializations int      `json:"materializations"`
	Failures         int      `json:"failures"`
	Tests            int      `json:"tests"`
	TestsFailed      int      `json:"tests_failed"`
	Observations     int      `json:"observations"`
	Skipped          int      `json:"skipped"`
	Events           int      `json:"events"`
	DeclaredInFile   []string `json:"declared_in_file"`
}

func newDBTCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dbt",
		Short: "Import a dbt project's artifacts (manifest, run results, source freshness)",
	}
	cmd.AddCommand(newDBTImportCmd(g))
	return cmd
}

func newDBTImportCmd(g *globals) *cobra.Command {
	var manifest, runResults, sources, namespace string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "import --manifest target/manifest.json [--run-results target/run_results.json] [--sources target/sources.json]",
		Short: "Import dbt artifacts: models, sources, seeds and snapshots as assets; runs, tests and source freshness as events",
		Long: `Import what a dbt invocation wrote to target/ into Freshet (POST /api/v1/dbt/import,
gzip-compressed; the token in FRESHET_TOKEN needs the ingest scope).

  manifest.json     models, seeds, snapshots and sources become assets (origin dbt)
                    with their deps, owners (meta.owner, group owner), tags,
                    description, group, kinds (dbt + materialization) and columns;
                    tests become checks of the asset they test; a source's
                    freshness criteria (error_after, warn_after) its freshness SLA.
                    Column lineage is inferred from each model's compiled SQL where
                    it is plain: select items that are column references.
                    Schema v10 to v12 (dbt 1.6 and later).
  run_results.json  each model, seed or snapshot run becomes a materialization
                    (duration, rows affected) or a materialization_failed (the
                    error message); each test result a check result. Import it
                    after every dbt run, build or test.
  sources.json      each result of dbt source freshness becomes an observation
                    whose data time is max_loaded_at, and a dbt_source_freshness
                    check result.

Keys are the relations: dbt/<database>/<schema>/<identifier>. If you also send
dbt-ol's OpenLineage events, give --namespace the warehouse namespace dbt-ol
reports (e.g. postgres://warehouse:5432): keys are then ol/<namespace>/<db.schema.table>,
the keys those events use, so both land on the same assets.

Importing the same files again changes nothing; freshet.yaml stays
authoritative for the keys it declares. A problem is reported with the file
and the JSON path in it, and nothing is imported. docs/dbt.md has the whole
mapping.`,
		Example: `  dbt build && freshet dbt import --manifest target/manifest.json --run-results target/run_results.json
  dbt source freshness && freshet dbt import --manifest target/manifest.json --sources target/sources.json
  freshet dbt import --manifest target/manifest.json --namespace postgres://warehouse:5432
  freshet dbt import --manifest target/manifest.json --run-results target/run_results.json --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			files := map[string]string{dbt.ArtifactManifest: manifest, dbt.ArtifactRunResults: runResults, dbt.ArtifactSources: sources}
			if manifest == "" {
				return errors.New("--manifest is required: the manifest.json dbt wrote to target/")
			}
			read := map[string][]byte{}
			for _, name := range []string{dbt.ArtifactManifest, dbt.ArtifactRunResults, dbt.ArtifactSources} {
				if files[name] == "" {
					continue
				}
				data, err := os.ReadFile(files[name])
				if err != nil {
					return fmt.Errorf("read %s: %w", name, err)
				}
				read[name] = data
			}
			if dryRun {
				im, err := dbt.Map(dbt.Artifacts{Manifest: read[dbt.ArtifactManifest], RunResults: read[dbt.ArtifactRunResults],
					Sources: read[dbt.ArtifactSources]}, dbt.Options{Namespace: namespace})
				if err != nil {
					var fe *dbt.FieldError
					if errors.As(err, &fe) {
						return fileError(files, fe.Field(), fe.Message)
					}
					return err
				}
				c := im.Counts
				printImported(cmd.OutOrStdout(), "would import", dbtImported{Project: im.Project, Assets: c.Assets, Checks: c.Checks, ColumnLineage: c.ColumnLineage,
					Materializations: c.Materializations, Failures: c.Failures, Tests: c.Tests, TestsFailed: c.TestsFailed,
					Observations: c.Observations, Skipped: c.Skipped, Events: len(im.Events)})
				return nil
			}
			body, err := dbtBody(read, files, namespace)
			if err != nil {
				return err
			}
			c, err := newClient(g.server)
			if err != nil {
				return err
			}
			req, err := http.NewRequestWithContext(cmd.Context(), http.MethodPost, c.base+"/api/v1/dbt/import", body)
			if err != nil {
				return err
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Content-Encoding", "gzip")
			var out dbtImported
			if err := c.send(req, &out); err != nil {
				var ae *apiError
				if errors.As(err, &ae) && ae.Field != "" {
					return fileError(files, ae.Field, ae.Message)
				}
				return fmt.Errorf("import: %w", err)
			}
			printImported(cmd.OutOrStdout(), "imported", out)
			return nil
		},
	}
	cmd.Flags().StringVar(&manifest, "manifest", "", "dbt's manifest.json (required), e.g. target/manifest.json")
	cmd.Flags().StringVar(&runResults, "run-results", "", "dbt's run_results.json, from dbt run, build, test, seed or snapshot")
	cmd.Flags().StringVar(&sources, "sources", "", "dbt's sources.json, from dbt source freshness")
	cmd.Flags().StringVar(&namespace, "namespace", "", "the warehouse's OpenLineage namespace as dbt-ol reports it (keys become ol/<namespace>/<db.schema.table>)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "check and map the files here and print what would be imported; send nothing")
	return cmd
}

// dbtBody is the request body, gzip-compressed: {"manifest": ..., ...}
// with each file's bytes as they are (the server checks them).
func dbtBody(read map[string][]byte, paths map[string]string, namespace string) (io.Reader, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte("{"))
	sep := ""
	for _, name := range []string{dbt.ArtifactManifest, dbt.ArtifactRunResults, dbt.ArtifactSources} {
		data, ok := read[name]
		if !ok {
			continue
		}
		if !json.Valid(data) {
			var v any
			err := json.Unmarshal(data, &v)
			return nil, fmt.Errorf("%s: not valid JSON (a truncated file?): %v", paths[name], err)
		}
		fmt.Fprintf(zw, "%s%q:", sep, name)
		zw.Write(data)
		sep = ","
	}
	if namespace != "" {
		ns, _ := json.Marshal(namespace)
		fmt.Fprintf(zw, `,"namespace":%s`, ns)
	}
	zw.Write([]byte("}"))
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return &buf, nil
}

// fileError names the file a field of the answer is in:
// "target/manifest.json: nodes[...]: ..." rather than "manifest.nodes[...]".
func fileError(files map[string]string, field, msg string) error {
	for _, name := range []string{dbt.ArtifactRunResults, dbt.ArtifactManifest, dbt.ArtifactSources} {
		if field == name || strings.HasPrefix(field, name+".") || strings.HasPrefix(field, name+"[") {
			path := strings.TrimPrefix(strings.TrimPrefix(field, name), ".")
			if path == "" {
				return fmt.Errorf("%s: %s", files[name], msg)
			}
			return fmt.Errorf("%s: %s: %s", files[name], path, msg)
		}
	}
	return fmt.Errorf("%s: %s", field, msg)
}

func printImported(w io.Writer, verb string, r dbtImported) {
	project := r.Project
	if project == "" {
		project = "(unnamed)"
	}
	fmt.Fprintf(w, "%s dbt project %s\n", verb, project)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	row := func(n int, what string) { fmt.Fprintf(tw, "  %d\t %s\n", n, what) }
	row(r.Assets, "assets (models, seeds, snapshots, sources)")
	row(r.Checks, "checks (tests, source freshness)")
	if r.ColumnLineage > 0 {
		row(r.ColumnLineage, "columns with lineage inferred from compiled SQL")
	}
	row(r.Materializations, "materializations")
	row(r.Failures, "failed runs")
	row(r.Tests, fmt.Sprintf("check results (%d not passing)", r.TestsFailed))
	row(r.Observations, "source freshness observations")
	if r.Skipped > 0 {
		row(r.Skipped, "results skipped (skipped nodes, analyses)")
	}
	tw.Flush()
	if len(r.DeclaredInFile) > 0 {
		fmt.Fprintf(w, "declared in freshet.yaml, whose specs stay in force: %s\n", strings.Join(r.DeclaredInFile, ", "))
	}
}
