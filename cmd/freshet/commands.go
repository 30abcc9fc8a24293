package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/freshet-dev/freshet/asset"
)

func printJSON(w io.Writer, raw json.RawMessage) error {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newAssetsCmd(g *globals) *cobra.Command {
	var group, owner, tag, kind, query string
	cmd := &cobra.Command{
		Use:   "assets",
		Short: "List assets in the catalog",
		Example: `  freshet assets
  freshet assets --group marts --json
  freshet assets --owner team:growth --search funnel`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newClient(g.server)
			if err != nil {
				return err
			}
			q := url.Values{}
			for k, v := range map[string]string{"group": group, "owner": owner, "tag": tag, "kind": kind, "q": query} {
				if v != "" {
					q.Set(k, v)
				}
			}
			var all []wireAsset
			var raws []json.RawMessage
			for {
				var page assetPage
				if err := c.get(cmd.Context(), "/api/v1/assets", q, &page); err != nil {
					return err
				}
				for _, r := range page.Assets {
					var a wireAsset
					if err := json.Unmarshal(r, &a); err != nil {
						return fmt.Errorf("decode asset: %w", err)
					}
					all, raws = append(all, a), append(raws, r)
				}
				if page.NextCursor == "" {
					break
				}
				q.Set("cursor", page.NextCursor)
			}
			out := cmd.OutOrStdout()
			if g.json {
				data, _ := json.Marshal(raws)
				return printJSON(out, data)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KEY\tGROUP\tKINDS\tLAST MATERIALIZATION\tROWS\tORIGIN")
			now := time.Now()
			for _, a := range all {
				last, rows := "-", "-"
				if m := a.LastMaterialization; m != nil {
					last = ago(now, m.Time)
					if n, ok := m.Metadata.RowCount(); ok {
						rows = strconv.FormatInt(n, 10)
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.Spec.Key, dash(a.Spec.Group),
					dash(strings.Join(a.Spec.Kinds, ",")), last, rows, a.Spec.Origin)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(out, "%d assets\n", len(all))
			return nil
		},
	}
	cmd.Flags().StringVar(&group, "group", "", "only assets in this group")
	cmd.Flags().StringVar(&owner, "owner", "", "only assets with this owner")
	cmd.Flags().StringVar(&tag, "tag", "", "only assets with this tag")
	cmd.Flags().StringVar(&kind, "kind", "", "only assets of this kind (table, dbt, ...)")
	cmd.Flags().StringVar(&query, "search", "", "text search in key and description")
	cmd.Flags().BoolVar(&g.json, "json", false, "print JSON")
	return cmd
}

func newAssetCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "asset KEY",
		Short:   "Show one asset: spec, latest state, neighbours",
		Example: `  freshet asset marts/revenue_daily`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var a assetDetail
			if printed, err := g.fetch(cmd, "/api/v1/assets/"+keyPath(args[0]), nil, &a); printed || err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			printAsset(out, a.wireAsset, a.Upstream, a.Downstream)
			// The automation's latest decision, when the server has one.
			var au struct {
				Decisions []struct {
					Time   time.Time `json:"time"`
					Action string    `json:"action"`
					Reason string    `json:"reason"`
					RunID  string    `json:"run_id"`
				} `json:"decisions"`
			}
			if c, err := newClient(g.server); err == nil &&
				c.get(cmd.Context(), "/api/v1/automation", url.Values{"asset": {args[0]}}, &au) == nil && len(au.Decisions) > 0 {
				d := au.Decisions[len(au.Decisions)-1]
				line := fmt.Sprintf("%s %s: %s", d.Action, ago(time.Now(), d.Time), d.Reason)
				if d.RunID != "" {
					line += " (run " + d.RunID + ")"
				}
				fmt.Fprintf(out, "%-19s %s\n", "Automation:", line)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&g.json, "json", false, "print JSON")
	return cmd
}

func printAsset(w io.Writer, a wireAsset, up, down []asset.Key) {
	s := a.Spec
	now := time.Now()
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	row("Key:", string(s.Key))
	row("Description:", dash(s.Description))
	row("Group:", dash(s.Group))
	row("Owners:", dash(strings.Join(s.Owners, ", ")))
	row("Tags:", dash(strings.Join(s.Tags, ", ")))
	row("Kinds:", dash(strings.Join(s.Kinds, ", ")))
	row("Origin:", s.Origin)
	row("Upstream:", dash(joinKeys(up)))
	row("Downstream:", dash(joinKeys(down)))
	if m := a.LastMaterialization; m != nil {
		row("Last materialization:", fmt.Sprintf("%s (%s, id %s)", m.Time.Format(time.RFC3339), ago(now, m.Time), m.ID))
		for _, name := range m.Metadata.Names() {
			v, _ := json.Marshal(m.Metadata[name])
			row("  "+name+":", string(v))
		}
	} else {
		row("Last materialization:", "never")
	}
	if f := a.LastFailure; f != nil {
		row("Last failure:", fmt.Sprintf("%s (%s)", f.Time.Format(time.RFC3339), ago(now, f.Time)))
	}
	if o := a.LastObservation; o != nil {
		row("Last observation:", fmt.Sprintf("%s (%s)", o.Time.Format(time.RFC3339), ago(now, o.Time)))
	}
	for _, c := range a.LastChecks {
		status := "passed"
		if !c.Check.Passed {
			status = "FAILED (" + string(c.Check.Severity) + ")"
		}
		row("Check "+c.Check.Name+":", fmt.Sprintf("%s %s", status, ago(now, c.Time)))
	}
	row("Health:", health(a))
	kinds := make([]string, 0, len(a.Counts))
	for k, n := range a.Counts {
		kinds = append(kinds, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(kinds)
	row("Events:", dash(strings.Join(kinds, " ")))
	tw.Flush()
}

// health sums up what is wrong with an asset beyond freshness: its latest
// run failed, or the latest result of a check failed.
func health(a wireAsset) string {
	var bad []string
	if f, m := a.LastFailure, a.LastMaterialization; f != nil && (m == nil || f.Time.After(m.Time)) {
		bad = append(bad, "latest run failed")
	}
	for _, c := range a.LastChecks {
		if c.Check != nil && !c.Check.Passed {
			bad = append(bad, fmt.Sprintf("check %s failed (%s)", c.Check.Name, c.Check.Severity))
		}
	}
	if len(bad) == 0 {
		return "ok"
	}
	return strings.Join(bad, "; ")
}

func newLineageCmd(g *globals) *cobra.Command {
	var up, down bool
	var depth int
	var column string
	cmd := &cobra.Command{
		Use:   "lineage KEY",
		Short: "Show what an asset (or one of its columns) comes from and what depends on it",
		Long: `Show the lineage around an asset as a tree. Without --upstream or
--downstream both directions are shown. Edges come from declared deps
(freshet.yaml) and from the upstream field of events.

With --column, the lineage of one column: the columns it is computed
from and the columns computed from it, each with its asset and the
transformation when the report gave one (column lineage comes from the
OpenLineage columnLineage facet; docs/lineage.md).`,
		Example: `  freshet lineage raw/shop/orders --downstream
  freshet lineage dashboards/exec_revenue --upstream --depth 2
  freshet lineage marts/funnel --json
  freshet lineage ol/s3:%2F%2Flake/marts/orders_enriched --column country --upstream`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if up && down {
				return fmt.Errorf("--upstream and --downstream are exclusive; give neither for both directions")
			}
			if depth < 0 {
				return fmt.Errorf("--depth must be 0 (unlimited) or more, not %d", depth)
			}
			dir := "both"
			switch {
			case up:
				dir = "upstream"
			case down:
				dir = "downstream"
			}
			q := url.Values{"direction": {dir}, "depth": {strconv.Itoa(depth)}}
			if column != "" {
				return columnLineage(cmd, g, args[0], column, dir, q)
			}
			var sub subgraph
			if printed, err := g.fetch(cmd, "/api/v1/assets/"+keyPath(args[0])+"/lineage", q, &sub); printed || err != nil {
				return err
			}
			start := asset.Key(args[0])
			out := cmd.OutOrStdout()
			if dir != "downstream" {
				fmt.Fprintln(out, "upstream:")
				printTree(out, start, sub, true)
			}
			if dir != "upstream" {
				fmt.Fprintln(out, "downstream:")
				printTree(out, start, sub, false)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&up, "upstream", false, "only what KEY comes from")
	cmd.Flags().BoolVar(&down, "downstream", false, "only what depends on KEY")
	cmd.Flags().IntVar(&depth, "depth", 0, "levels to follow (0 = all)")
	cmd.Flags().StringVar(&column, "column", "", "the lineage of this column of KEY instead of the whole asset's")
	cmd.Flags().BoolVar(&g.json, "json", false, "print JSON (nodes and edges)")
	return cmd
}

// columnLineage prints a column's lineage as trees of asset#column, with
// each edge's transformation.
func columnLineage(cmd *cobra.Command, g *globals, key, column, dir string, q url.Values) error {
	var cg struct {
		Nodes []struct {
			Asset  asset.Key `json:"asset"`
			Column string    `json:"column"`
		} `json:"nodes"`
		Edges []struct {
			From           asset.ColumnRef `json:"from"`
			To             asset.ColumnRef `json:"to"`
			Transformation string          `json:"transformation"`
		} `json:"edges"`
		Truncated bool `json:"truncated"`
	}
	path := "/api/v1/assets/" + keyPath(key) + "/columns/" + url.PathEscape(column) + "/lineage"
	if printed, err := g.fetch(cmd, path, q, &cg); printed || err != nil {
		return err
	}
	// the asset tree printer, on columns: a column is a node named asset#column
	var sub subgraph
	label := map[asset.Key]string{}
	for _, e := range cg.Edges {
		from, to := asset.Key(e.From.String()), asset.Key(e.To.String())
		sub.Edges = append(sub.Edges, subgraphEdge{Upstream: from, Downstream: to})
		if e.Transformation != "" {
			label[from+"\x00"+to] = e.Transformation
		}
	}
	out := cmd.OutOrStdout()
	start := asset.Key(asset.ColumnRef{Asset: asset.Key(key), Column: column}.String())
	if dir != "downstream" {
		fmt.Fprintln(out, "upstream (computed from):")
		printTree(out, start, sub, true)
	}
	if dir != "upstream" {
		fmt.Fprintln(out, "downstream (read by):")
		printTree(out, start, sub, false)
	}
	if len(label) > 0 {
		fmt.Fprintln(out, "transformations:")
		for _, e := range cg.Edges {
			if tr := label[asset.Key(e.From.String())+"\x00"+asset.Key(e.To.String())]; tr != "" {
				fmt.Fprintf(out, "  %s -> %s: %s\n", e.From, e.To, tr)
			}
		}
	}
	if cg.Truncated {
		fmt.Fprintln(out, "(truncated: the server's limit of columns was reached; use --depth)")
	}
	return nil
}

// printTree prints the subgraph as an indented tree from start; a node
// reached twice (diamonds) is printed once and then referred to.
func printTree(w io.Writer, start asset.Key, sub subgraph, upstream bool) {
	next := make(map[asset.Key][]asset.Key)
	for _, e := range sub.Edges {
		if upstream {
			next[e.Downstream] = append(next[e.Downstream], e.Upstream)
		} else {
			next[e.Upstream] = append(next[e.Upstream], e.Downstream)
		}
	}
	printed := map[asset.Key]bool{}
	var walk func(k asset.Key, indent string)
	walk = func(k asset.Key, indent string) {
		children := next[k]
		sort.Slice(children, func(i, j int) bool { return children[i] < children[j] })
		for i, ch := range children {
			branch, cont := "├── ", "│   "
			if i == len(children)-1 {
				branch, cont = "└── ", "    "
			}
			if printed[ch] {
				fmt.Fprintf(w, "%s%s%s (see above)\n", indent, branch, ch)
				continue
			}
			printed[ch] = true
			fmt.Fprintf(w, "%s%s%s\n", indent, branch, ch)
			walk(ch, indent+cont)
		}
	}
	fmt.Fprintln(w, start)
	printed[start] = true
	walk(start, "")
}

func newEventsCmd(g *globals) *cobra.Command {
	var kinds string
	var limit int
	cmd := &cobra.Command{
		Use:   "events KEY",
		Short: "Show an asset's event history, newest first",
		Example: `  freshet events raw/shop/orders
  freshet events staging/orders --kind check_result --limit 5 --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{"limit": {strconv.Itoa(limit)}}
			if kinds != "" {
				q.Set("kind", kinds)
			}
			var page eventPage
			if printed, err := g.fetch(cmd, "/api/v1/assets/"+keyPath(args[0])+"/events", q, &page); printed || err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TIME\tKIND\tDETAIL\tID")
			for _, e := range page.Events {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Time.Format(time.RFC3339), e.Kind, eventDetail(e), e.ID)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&kinds, "kind", "", "comma-separated kinds (materialization, materialization_failed, observation, check_result, freshness_changed, freshness_policy_changed)")
	cmd.Flags().IntVar(&limit, "limit", 20, "number of events (1-1000)")
	cmd.Flags().BoolVar(&g.json, "json", false, "print JSON")
	return cmd
}

func eventDetail(e wireEvent) string {
	switch {
	case e.Check != nil:
		if e.Check.Passed {
			return e.Check.Name + " passed"
		}
		return e.Check.Name + " FAILED"
	case e.Kind == asset.KindMaterializationFailed:
		if v, ok := e.Metadata["error"]; ok {
			return v.Text
		}
	case e.Kind == asset.KindFreshnessChanged:
		state := e.Metadata["state"].Text
		if prev, ok := e.Metadata["previous_state"]; ok {
			return prev.Text + " -> " + state
		}
		return state
	case e.Kind == asset.KindPolicyChanged:
		detail := e.Metadata["action"].Text
		if a, ok := e.Metadata["actor"]; ok {
			detail += " by " + a.Text
		}
		return detail
	default:
		if n, ok := e.Metadata.RowCount(); ok {
			return fmt.Sprintf("%d rows", n)
		}
	}
	return "-"
}

func newSendCmd(g *globals) *cobra.Command {
	var wait bool
	cmd := &cobra.Command{
		Use:   "send FILE",
		Short: "Send events from a JSON or NDJSON file (- for stdin)",
		Long: `Send events to the server's POST /api/v1/events. Files ending in .ndjson or
.jsonl are sent as NDJSON, one event per line; other files as JSON (one
event or an array). On stdin, input that starts with '[' is a JSON array,
anything else NDJSON. The batch is all-or-nothing: on an error
nothing is stored and the offending line and field are printed.

By default send returns once the server has the events durably (its
write-ahead log); with --wait it returns once they are in the event
store, so that a read right after sees them (it fails if the store did
not have them within the server's 30 s wait; they are stored later).`,
		Example: `  freshet send materialization.json
  my-pipeline --emit-events | freshet send -`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(g.server)
			if err != nil {
				return err
			}
			var data []byte
			ctype := "application/x-ndjson"
			if args[0] == "-" {
				data, err = io.ReadAll(cmd.InOrStdin())
				if t := bytes.TrimLeft(data, " \t\r\n\xef\xbb\xbf"); len(t) > 0 && t[0] == '[' {
					ctype = "application/json"
				}
			} else {
				data, err = os.ReadFile(args[0])
				if ext := strings.ToLower(filepath.Ext(args[0])); ext != ".ndjson" && ext != ".jsonl" {
					ctype = "application/json"
				}
			}
			if err != nil {
				return fmt.Errorf("read events: %w", err)
			}
			var resp eventsAccepted
			path := "/api/v1/events"
			if wait {
				path += "?wait=stored"
			}
			if err := c.do(cmd.Context(), "POST", path, ctype, data, &resp); err != nil {
				return fmt.Errorf("send %s: %w", args[0], err)
			}
			if wait && (resp.Stored == nil || !*resp.Stored) {
				return fmt.Errorf("send %s: %d events acknowledged, but the store did not have them within the server's wait; they will be stored", args[0], resp.Accepted)
			}
			verb := "sent"
			if wait {
				verb = "stored"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %d events\n", verb, resp.Accepted)
			return nil
		},
	}
	cmd.Flags().BoolVar(&wait, "wait", false, "return only once the event store has the events (POST ?wait=stored)")
	return cmd
}

func ago(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < 0:
		return "in the future"
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm ago", int(d.Hours()), int(d.Minutes())%60)
	default:
		return fmt.Sprintf("%dd ago", int(d.Hours()/24))
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func joinKeys(keys []asset.Key) string {
	s := make([]string, len(keys))
	for i, k := range keys {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}
