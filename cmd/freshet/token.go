package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/auth"
)

func newTokenCmd() *cobra.Command {
	var dataDir string
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke API tokens (kept hashed in DATA-DIR/tokens.json)",
		Long: `API tokens authenticate requests (Authorization: Bearer fst_...; the CLI sends
FRESHET_TOKEN). Each has scopes: read (every GET), ingest (POST events and
OpenLineage), operate (SLAs, runs, silences, automation, dead letters),
admin (everything). Once a token exists the server requires one on every
API request except /healthz, /readyz and (unless --metrics-auth) /metrics.
Changes reach a running server at once: it rereads the file when it changes.
The token's name is the audit actor of the changes made with it.`,
		Example: `  freshet token create --data-dir /var/lib/freshet --name alice --scope operate --scope read
  freshet token create --data-dir /var/lib/freshet --name airflow --scope ingest --expires 90d
  freshet token ls --data-dir /var/lib/freshet
  freshet token revoke --data-dir /var/lib/freshet airflow`,
	}
	cmd.PersistentFlags().StringVar(&dataDir, "data-dir", "./freshet-data", "the server's data directory")
	var name, expires string
	var scopes []string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a token and print its secret (shown once)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			toks, err := auth.Open(dataDir)
			if err != nil {
				return err
			}
			now := time.Now()
			var until time.Time
			if expires != "" {
				d, err := asset.ParseDuration(expires)
				if err != nil {
					return fmt.Errorf("--expires: %w", err)
				}
				until = now.Add(d)
			}
			secret, tok, err := toks.Create(name, scopes, until, now)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "token %s (%s) created; its secret, shown only now:\n%s\n", tok.Name, strings.Join(tok.Scopes, ","), secret)
			fmt.Fprintln(out, "use it with: export FRESHET_TOKEN=<secret>")
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", "", "who or what uses it (the audit actor)")
	create.Flags().StringArrayVar(&scopes, "scope", nil, "read, ingest, operate or admin; repeatable")
	create.Flags().StringVar(&expires, "expires", "", "lifetime, e.g. 90d (default: no expiry)")
	ls := &cobra.Command{
		Use:   "ls",
		Short: "List tokens (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			toks, err := auth.Open(dataDir)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSCOPES\tCREATED\tEXPIRES\tSTATE")
			now := time.Now()
			for _, t := range toks.List() {
				state, exp := "active", "never"
				if !t.Expires.IsZero() {
					exp = t.Expires.Local().Format("2006-01-02 15:04")
				}
				switch {
				case !t.Revoked.IsZero():
					state = "revoked " + t.Revoked.Local().Format("2006-01-02 15:04")
				case !t.Active(now):
					state = "expired"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.Name, strings.Join(t.Scopes, ","), t.Created.Local().Format("2006-01-02 15:04"), exp, state)
			}
			return tw.Flush()
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke NAME",
		Short: "Revoke a token; requests with it get 401 at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			toks, err := auth.Open(dataDir)
			if err != nil {
				return err
			}
			if err := toks.Revoke(args[0], time.Now()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "token %s revoked\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(create, ls, revoke)
	return cmd
}
