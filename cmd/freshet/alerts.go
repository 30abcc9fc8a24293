package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

type wireNotification struct {
	Key       string            `json:"key"`
	Status    string            `json:"status"`
	Severity  string            `json:"severity"`
	Summary   string            `json:"summary"`
	RootCause string            `json:"root_cause"`
	Impacted  []string          `json:"impacted"`
	Rule      string            `json:"rule"`
	Owners    []string          `json:"owners"`
	StartsAt  time.Time         `json:"starts_at"`
	Details   map[string]string `json:"details"`
}

type wireOpen struct {
	Notification wireNotification `json:"notification"`
	Held         string           `json:"held"`
	LastSent     *time.Time       `json:"last_sent"`
}

func newAlertsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "alerts",
		Short: "Show open alerts (one per rule and root cause), deliveries, rules; test a receiver",
		Long: `Show the open alerts: one per rule and root cause, with the assets it
impacts. An alert that was not sent says why (silenced, inhibited by an
alert upstream, quiet hours).`,
		Example: `  freshet alerts
  freshet alerts deliveries --state pending
  freshet alerts rules
  freshet alerts test oncall`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var body struct {
				Alerts []wireOpen `json:"alerts"`
			}
			if printed, err := g.fetch(cmd, "/api/v1/alerts", nil, &body); printed || err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if len(body.Alerts) == 0 {
				fmt.Fprintln(out, "no open alerts")
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "RULE\tROOT CAUSE\tSEVERITY\tSINCE\tIMPACTED\tSENT\tSUMMARY")
			now := time.Now()
			for _, a := range body.Alerts {
				n := a.Notification
				sent := "yes"
				if a.Held != "" {
					sent = "no: " + a.Held
				}
				impacted := n.Details["impacted_count"]
				if impacted == "" {
					impacted = fmt.Sprint(len(n.Impacted))
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n.Rule, n.RootCause, n.Severity, ago(now, n.StartsAt), impacted, sent, n.Summary)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&g.json, "json", false, "print the API's JSON")
	cmd.AddCommand(newDeliveriesCmd(g), newAlertRulesCmd(g), newAlertTestCmd(g))
	return cmd
}

func newDeliveriesCmd(g *globals) *cobra.Command {
	var state, receiver, key string
	var limit int
	cmd := &cobra.Command{
		Use:   "deliveries",
		Short: "The delivery log: each notification per receiver, its attempts and outcome",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{"limit": {fmt.Sprint(limit)}}
			for k, v := range map[string]string{"state": state, "receiver": receiver, "key": key} {
				if v != "" {
					q.Set(k, v)
				}
			}
			var page struct {
				Deliveries []struct {
					Receiver     string           `json:"receiver"`
					Key          string           `json:"key"`
					Status       string           `json:"status"`
					State        string           `json:"state"`
					Attempts     int              `json:"attempts"`
					LastCode     int              `json:"last_code"`
					LastError    string           `json:"last_error"`
					Created      time.Time        `json:"created"`
					Notification wireNotification `json:"notification"`
				} `json:"deliveries"`
			}
			if printed, err := g.fetch(cmd, "/api/v1/alerts/deliveries", q, &page); printed || err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CREATED\tRECEIVER\tSTATUS\tSTATE\tATTEMPTS\tCODE\tKEY\tERROR")
			for _, d := range page.Deliveries {
				code := "-"
				if d.LastCode != 0 {
					code = fmt.Sprint(d.LastCode)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", d.Created.Local().Format("2006-01-02 15:04:05"), d.Receiver,
					d.Status, d.State, d.Attempts, code, d.Key, dash(firstLine(d.LastError)))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&state, "state", "", "only these states: pending, delivered, rejected, dropped, silenced (comma-separated)")
	cmd.Flags().StringVar(&receiver, "receiver", "", "only this receiver")
	cmd.Flags().StringVar(&key, "key", "", "only this alert key")
	cmd.Flags().IntVar(&limit, "limit", 50, "how many to show")
	cmd.Flags().BoolVar(&g.json, "json", false, "print the API's JSON")
	return cmd
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return s
}

func newAlertRulesCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "The alert rules and receivers of the server's freshet.yaml",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var body struct {
				Rules []struct {
					Name      string          `json:"name"`
					When      []string        `json:"when"`
					Select    json.RawMessage `json:"select"`
					Receivers []string        `json:"receivers"`
					Severity  string          `json:"severity"`
				} `json:"rules"`
				Receivers []map[string]string `json:"receivers"`
			}
			if printed, err := g.fetch(cmd, "/api/v1/alerts/rules", nil, &body); printed || err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "RULE\tWHEN\tSELECT\tRECEIVERS\tSEVERITY")
			for _, r := range body.Rules {
				sel := "all assets"
				if len(r.Select) > 0 && string(r.Select) != "null" {
					sel = string(r.Select)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Name, strings.Join(r.When, ","), sel, strings.Join(r.Receivers, ","), dash(r.Severity))
			}
			tw.Flush()
			for _, r := range body.Receivers {
				fmt.Fprintf(cmd.OutOrStdout(), "receiver %s (%s)\n", r["name"], r["type"])
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&g.json, "json", false, "print the API's JSON")
	return cmd
}

func newAlertTestCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "test RECEIVER",
		Short:   "Send a test notification (firing, then resolved) to a receiver and say how it went",
		Example: `  freshet alerts test oncall`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(g.server)
			if err != nil {
				return err
			}
			if err := c.do(cmd.Context(), http.MethodPost, "/api/v1/alerts/test?receiver="+url.QueryEscape(args[0]), "", nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: test notification delivered (firing and resolved)\n", args[0])
			return nil
		},
	}
}

func newSilenceCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "silence",
		Short: "Mute alerts for a while: add, list, expire",
		Long: `A silence mutes the alerts whose root cause it matches, until it ends: they
are recorded in the delivery log (state silenced), not sent, and sent when
the silence ends if they still fire.`,
		Example: `  freshet silence add --match key_prefix=raw/crm --for 4h --comment "CRM vendor outage, ticket OPS-123"
  freshet silence add --match rule=gold-sla --match group=finance --until 2026-12-02T08:00:00Z --comment "quarter close"
  freshet silence ls
  freshet silence expire 019ad2c4-...`,
	}
	var match []string
	var forDur, until, comment, actor string
	add := &cobra.Command{
		Use:   "add",
		Short: "Add a silence",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m := map[string]any{}
			for _, kv := range match {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || v == "" {
					return fmt.Errorf("--match %q: use FIELD=VALUE, e.g. key_prefix=raw/crm (fields: key, key_prefix, group, owner, tag, kind, rule)", kv)
				}
				if k == "key" {
					keys, _ := m["keys"].([]string)
					m["keys"] = append(keys, v)
					continue
				}
				m[k] = v
			}
			body := map[string]any{"match": m, "comment": comment, "created_by": actor}
			switch {
			case forDur != "" && until != "":
				return fmt.Errorf("give --for or --until, not both")
			case forDur != "":
				body["duration"] = forDur
			case until != "":
				body["ends_at"] = until
			default:
				return fmt.Errorf("a silence needs an end: --for 2h or --until 2026-12-02T08:00:00Z")
			}
			b, _ := json.Marshal(body)
			c, err := newClient(g.server)
			if err != nil {
				return err
			}
			var sl struct {
				ID     string    `json:"id"`
				EndsAt time.Time `json:"ends_at"`
			}
			if err := c.do(cmd.Context(), http.MethodPost, "/api/v1/silences", "application/json", b, &sl); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "silence %s added, until %s\n", sl.ID, sl.EndsAt.Local().Format(time.RFC3339))
			return nil
		},
	}
	add.Flags().StringArrayVar(&match, "match", nil, "FIELD=VALUE, repeatable: key, key_prefix, group, owner, tag, kind, rule")
	add.Flags().StringVar(&forDur, "for", "", "how long, e.g. 2h or 1d")
	add.Flags().StringVar(&until, "until", "", "end time, RFC 3339")
	add.Flags().StringVar(&comment, "comment", "", "why (required; kept with the silence)")
	add.Flags().StringVar(&actor, "actor", defaultActor(), "who is adding it (recorded)")

	ls := &cobra.Command{
		Use:   "ls",
		Short: "List silences, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var body struct {
				Silences []struct {
					ID        string          `json:"id"`
					Match     json.RawMessage `json:"match"`
					Comment   string          `json:"comment"`
					CreatedBy string          `json:"created_by"`
					EndsAt    time.Time       `json:"ends_at"`
					Active    bool            `json:"active"`
				} `json:"silences"`
			}
			if printed, err := g.fetch(cmd, "/api/v1/silences", nil, &body); printed || err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tACTIVE\tENDS\tMATCH\tBY\tCOMMENT")
			for _, s := range body.Silences {
				fmt.Fprintf(tw, "%s\t%v\t%s\t%s\t%s\t%s\n", s.ID, s.Active, s.EndsAt.Local().Format("2006-01-02 15:04"), s.Match, s.CreatedBy, s.Comment)
			}
			return tw.Flush()
		},
	}
	ls.Flags().BoolVar(&g.json, "json", false, "print the API's JSON")

	var expireActor string
	expire := &cobra.Command{
		Use:   "expire ID",
		Short: "End a silence now",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(g.server)
			if err != nil {
				return err
			}
			q := url.Values{"actor": {expireActor}}
			if err := c.do(cmd.Context(), http.MethodDelete, "/api/v1/silences/"+url.PathEscape(args[0])+"?"+q.Encode(), "", nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "silence %s expired\n", args[0])
			return nil
		},
	}
	expire.Flags().StringVar(&expireActor, "actor", defaultActor(), "who is ending it (recorded)")
	cmd.AddCommand(add, ls, expire)
	return cmd
}
