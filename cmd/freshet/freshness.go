package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/freshet-dev/freshet/asset"
)

func newStatusCmd(g *globals) *cobra.Command {
	var all bool
	var group, failOn string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show assets that are not fresh, worst first, with their root causes",
		Long: `Show every asset with a freshness policy that is not PASS: FAIL, AT_RISK,
WARN and UNKNOWN (never materialized), worst first, with how late it is, its
deadline and the root cause (the most upstream stale asset: fix that one);
then the assets whose latest check or run failed, and the assets without an
SLA of their own downstream of each root cause.

Exit code 0, or with --fail-on 1 when an asset listed is at least that bad
(WARN < AT_RISK < FAIL; UNKNOWN counts as FAIL): a CI or cron job can gate
on it. Use --json for scripts.`,
		Example: `  freshet status
  freshet status --all --group marts
  freshet status --group marts --fail-on FAIL   # exit 1 if a mart is failing
  freshet status --json | jq '.assets[] | select(.state=="FAIL") | .root_cause'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			threshold, err := failThreshold(failOn)
			if err != nil {
				return err
			}
			q := url.Values{}
			if !all {
				q.Set("state", "FAIL,AT_RISK,WARN,UNKNOWN")
			}
			if group != "" {
				q.Set("group", group)
			}
			var resp freshnessList
			if printed, err := g.fetch(cmd, "/api/v1/freshness", q, &resp); printed || err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			var parts []string
			for _, s := range []string{"FAIL", "AT_RISK", "WARN", "UNKNOWN", "PASS"} {
				if n := resp.Counts[s]; n > 0 {
					parts = append(parts, fmt.Sprintf("%d %s", n, s))
				}
			}
			if len(parts) == 0 {
				fmt.Fprintln(out, "no asset has a freshness policy yet (see docs/freshness.md)")
			} else {
				fmt.Fprintln(out, strings.Join(parts, ", "))
			}
			if len(resp.Assets) == 0 {
				if len(parts) > 0 {
					fmt.Fprintln(out, "every asset with an SLA is fresh")
				}
				return failOnError(printHealth(out, resp, threshold), failOn)
			}
			now := time.Now()
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ASSET\tSTATE\tLAG\tDEADLINE\tROOT CAUSE\tREASON")
			for _, a := range resp.Assets {
				lag, deadline := "-", "-"
				if a.State != "UNKNOWN" {
					// To the second, as the reason says it.
					lag = asset.FormatDuration(a.Lag().Round(time.Second))
				}
				if !a.Deadline.IsZero() {
					deadline = relative(now, a.Deadline)
					if a.State == "FAIL" && !a.Deadline.After(now) {
						deadline = "missed " + deadline
					}
				}
				root := string(a.RootCause)
				if root == "" {
					root = "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.Key, a.State, lag, deadline, root, a.Reason)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			return failOnError(printHealth(out, resp, threshold), failOn)
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "include assets that PASS")
	cmd.Flags().StringVar(&group, "group", "", "only this group")
	cmd.Flags().StringVar(&failOn, "fail-on", "", "exit 1 when an asset is at least this bad: WARN, AT_RISK or FAIL")
	cmd.Flags().BoolVar(&g.json, "json", false, "print the API's JSON")
	return cmd
}

// printHealth prints the other half of health after the table: failed
// checks and runs, and the assets without an SLA that a root cause
// impacts. It returns how many assets are at least threshold bad, counting
// an error-severity check or a failed run as FAIL (so any --fail-on level).
func printHealth(out io.Writer, resp freshnessList, threshold int) int {
	failing := map[asset.Key]bool{}
	for _, a := range resp.Assets {
		if threshold > 0 && severity[a.State] >= threshold {
			failing[a.Key] = true
		}
	}
	if len(resp.Problems) > 0 {
		fmt.Fprintln(out, "Failing checks and runs:")
		for _, p := range resp.Problems {
			var what []string
			bad := p.RunFailed != nil
			if p.RunFailed != nil {
				what = append(what, "latest run failed at "+p.RunFailed.Time.UTC().Format(time.RFC3339))
			}
			for _, c := range p.FailedChecks {
				what = append(what, fmt.Sprintf("check %s failed (%s)", c.Check.Name, c.Check.Severity))
				bad = bad || c.Check.Severity != asset.SeverityWarn
			}
			fmt.Fprintf(out, "  %s: %s\n", p.Key, strings.Join(what, "; "))
			if bad && threshold > 0 {
				failing[p.Key] = true
			}
		}
	}
	for _, im := range resp.Impacted {
		more := ""
		if im.Total > len(im.Assets) {
			more = fmt.Sprintf(" and %d more", im.Total-len(im.Assets))
		}
		fmt.Fprintf(out, "Impacted by %s (no SLA of their own): %s%s\n", im.RootCause, joinKeys(im.Assets), more)
	}
	return len(failing)
}

func failOnError(failing int, failOn string) error {
	if failing == 0 {
		return nil
	}
	return &exitError{code: 1, err: fmt.Errorf("%d asset(s) at %s or worse (--fail-on)", failing, strings.ToUpper(failOn))}
}

// severity orders states for --fail-on; UNKNOWN (never materialized) is
// as bad as FAIL: a pipeline that never ran is not fresh.
var severity = map[string]int{"PASS": 0, "WARN": 1, "AT_RISK": 2, "FAIL": 3, "UNKNOWN": 3}

func failThreshold(name string) (int, error) {
	if name == "" {
		return 0, nil
	}
	switch v := strings.ToUpper(name); v {
	case "WARN", "AT_RISK", "FAIL":
		return severity[v], nil
	}
	return 0, fmt.Errorf("--fail-on %q: use WARN, AT_RISK or FAIL", name)
}

// relative says "in 2h", "40m ago" or, within a minute, "in 25s" / "now":
// rounding must not turn a deadline just missed into "in 0s".
func relative(now, t time.Time) string {
	d := t.Sub(now)
	if d.Abs() < time.Hour {
		d = d.Round(time.Second)
	} else {
		d = d.Round(time.Minute)
	}
	switch {
	case d == 0:
		return "now"
	case d > 0:
		return "in " + asset.FormatDuration(d)
	}
	return asset.FormatDuration(-d) + " ago"
}

func newSLACmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sla",
		Short: "Show, set or remove an asset's freshness SLA at run time",
		Long: `An SLA set here overrides the asset's policy from freshet.yaml (per asset or
by selection) until it is removed; every change is recorded with who made it
and what was in force before (see 'freshet sla show').`,
	}
	var (
		maxLag, warnAfter, cronExpr, tz, grace string
		actor                                  string
	)
	set := &cobra.Command{
		Use:   "set KEY",
		Short: "Set an asset's SLA",
		Long: `Set an asset's SLA: a max lag (data at most --max-lag old, with an optional
earlier --warn-after), or a cron deadline: at each tick of --cron (in
--timezone, default UTC) the data must be at most --max-lag old; without
--max-lag, each tick needs data from after the previous tick. With a cron,
--max-lag is at least 1m. An asset that never materialized (or is built
from one that never did) is UNKNOWN, and FAIL once --grace is over
(default: --max-lag).`,
		Example: `  freshet sla set marts/orders_enriched --max-lag 4h --warn-after 3h
  freshet sla set marts/revenue_daily --cron "0 7 * * *" --timezone Europe/Paris --max-lag 8h
  freshet sla set marts/weekly_report --cron "0 9 * * 1"   # data from after last Monday 09:00
  freshet sla set raw/new_feed --max-lag 1h --grace 2d      # a new feed: 2 days to start reporting`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if maxLag == "" && cronExpr == "" {
				return fmt.Errorf("--max-lag is required without --cron, e.g. --max-lag 2h")
			}
			body := map[string]string{"actor": actor}
			for k, v := range map[string]string{"max_lag": maxLag, "warn_after": warnAfter, "cron": cronExpr, "timezone": tz, "grace": grace} {
				if v != "" {
					body[k] = v
				}
			}
			b, _ := json.Marshal(body)
			c, err := newClient(g.server)
			if err != nil {
				return err
			}
			var p effectivePolicy
			if err := c.do(cmd.Context(), http.MethodPut, "/api/v1/assets/"+keyPath(args[0])+"/freshness/policy", "application/json", b, &p); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s (set by %s)\n", args[0], describePolicy(p.Policy), actor)
			return nil
		},
	}
	set.Flags().StringVar(&maxLag, "max-lag", "", "how old the data may be (90m, 2h, 1d); with --cron, at each tick")
	set.Flags().StringVar(&warnAfter, "warn-after", "", "WARN once the data is this old (below --max-lag)")
	set.Flags().StringVar(&cronExpr, "cron", "", `deadline schedule, e.g. "0 7 * * *"`)
	set.Flags().StringVar(&tz, "timezone", "", "time zone of --cron, e.g. Europe/Paris (default UTC)")
	set.Flags().StringVar(&grace, "grace", "", "how long it may stay UNKNOWN (never materialized) before FAIL (default --max-lag)")
	set.Flags().StringVar(&actor, "actor", defaultActor(), "who is making the change (recorded)")

	rm := &cobra.Command{
		Use:     "rm KEY",
		Short:   "Remove an SLA set at run time (the file's policy applies again)",
		Example: `  freshet sla rm marts/orders_enriched`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(g.server)
			if err != nil {
				return err
			}
			req := "/api/v1/assets/" + keyPath(args[0]) + "/freshness/policy?actor=" + url.QueryEscape(actor)
			var out policyRemoved
			if err := c.do(cmd.Context(), http.MethodDelete, req, "", nil, &out); err != nil {
				return err
			}
			if out.Policy == nil {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: no SLA any more\n", args[0])
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: back to the %s policy: %s\n", args[0], out.Policy.Source, describePolicy(out.Policy.Policy))
			}
			return nil
		},
	}
	rm.Flags().StringVar(&actor, "actor", defaultActor(), "who is making the change (recorded)")

	show := &cobra.Command{
		Use:   "show KEY",
		Short: "Show an asset's SLA, its current state and the SLA's change history",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var resp assetFreshness
			if printed, err := g.fetch(cmd, "/api/v1/assets/"+keyPath(args[0])+"/freshness", nil, &resp); printed || err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if resp.Policy == nil {
				fmt.Fprintf(out, "%s has no freshness SLA\n", args[0])
			} else {
				fmt.Fprintf(out, "SLA:     %s (from %s)\n", describePolicy(resp.Policy.Policy), resp.Policy.Source)
			}
			if r := resp.Result; r != nil {
				fmt.Fprintf(out, "State:   %s: %s\n", r.State, r.Reason)
			}
			if len(resp.Audit) > 0 {
				fmt.Fprintln(out, "Changes (newest first):")
				for _, e := range resp.Audit {
					what := "removed"
					if e.Metadata["action"].Text == "set" {
						var p asset.FreshnessPolicy
						if json.Unmarshal([]byte(e.Metadata["policy"].Text), &p) == nil {
							what = "set " + describePolicy(p)
						}
					}
					fmt.Fprintf(out, "  %s  %s by %s\n", e.Time.Local().Format("2006-01-02 15:04"), what, e.Metadata["actor"].Text)
				}
			}
			return nil
		},
	}
	show.Flags().BoolVar(&g.json, "json", false, "print the API's JSON")
	cmd.AddCommand(set, rm, show)
	return cmd
}

// defaultActor names the person at the keyboard for the audit trail.
func defaultActor() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "cli"
}

func describePolicy(p asset.FreshnessPolicy) string {
	if p.Grace > 0 {
		return describeDeadline(p) + ", grace " + asset.FormatDuration(p.Grace)
	}
	return describeDeadline(p)
}

func describeDeadline(p asset.FreshnessPolicy) string {
	if p.Cron != "" {
		tz := p.Timezone
		if tz == "" {
			tz = "UTC"
		}
		if p.MaxLag == 0 {
			return fmt.Sprintf("at each %q (%s), data from after the previous tick", p.Cron, tz)
		}
		return fmt.Sprintf("at each %q (%s), data at most %s old", p.Cron, tz, asset.FormatDuration(p.MaxLag))
	}
	s := "max lag " + asset.FormatDuration(p.MaxLag)
	if p.WarnAfter > 0 {
		s += ", warn after " + asset.FormatDuration(p.WarnAfter)
	}
	return s
}
