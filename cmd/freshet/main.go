// Command freshet is the Freshet server and its command-line client.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// version is set at build time: -ldflags "-X main.version=v0.1.0".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// exitError carries an exit code other than 1 (check-config uses 1 for
// problems found and 2 for unreadable input).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(stderr, "freshet:", err)
		var ee *exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		return 1
	}
	return 0
}

// globals are the flags every client command shares.
type globals struct {
	server string
	json   bool
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "freshet",
		Short: "Data asset catalog, lineage and freshness SLAs",
		Long: `Freshet keeps a catalog of your data assets, the lineage between them, and
whether each one is fresh enough.

Start the demo (embedded store, demo graph, REST API on :3000):
  freshet dev

Run a server on your own definitions:
  freshet serve --config freshet.yaml --data-dir /var/lib/freshet

Then, from any shell:
  freshet assets --group marts
  freshet lineage raw/shop/orders --downstream
  freshet status                      # what is stale, and why
  freshet sla set marts/revenue --max-lag 2h --warn-after 90m
  freshet materialize +marts/revenue --wait   # run the commands in freshet.yaml
  freshet send events.ndjson
  freshet dbt import --manifest target/manifest.json --run-results target/run_results.json`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	defaultServer := os.Getenv("FRESHET_SERVER")
	if defaultServer == "" {
		defaultServer = "http://127.0.0.1:3000"
	}
	root.PersistentFlags().StringVar(&g.server, "server", defaultServer, "Freshet server to talk to (env FRESHET_SERVER)")
	root.AddCommand(
		newServeCmd(), newDevCmd(), newCheckConfigCmd(), newTokenCmd(),
		newAssetsCmd(g), newAssetCmd(g), newLineageCmd(g), newEventsCmd(g), newSendCmd(g), newDBTCmd(g),
		newStatusCmd(g), newSLACmd(g),
		newMaterializeCmd(g), newRunsCmd(g), newRunCmd(g), newLogsCmd(g), newCancelCmd(g),
		newAlertsCmd(g), newSilenceCmd(g),
		newReportCmd(),
		newVersionCmd(),
	)
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), "freshet", version)
			return nil
		},
	}
}
