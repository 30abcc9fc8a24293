package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// wireRun and friends mirror api/runs.go.
type wireRun struct {
	ID        string     `json:"id"`
	Status    string     `json:"status"`
	Trigger   string     `json:"trigger"`
	Selection []string   `json:"selection"`
	Partition string     `json:"partition,omitempty"`
	Parent    string     `json:"parent,omitempty"`
	Reason    string     `json:"reason,omitempty"`
	Created   time.Time  `json:"created"`
	Started   *time.Time `json:"started,omitempty"`
	Ended     *time.Time `json:"ended,omitempty"`
	Steps     []wireStep `json:"steps,omitempty"`
}

type wireStep struct {
	Asset    string     `json:"asset"`
	Status   string     `json:"status"`
	Attempts int        `json:"attempts"`
	Reason   string     `json:"reason,omitempty"`
	Started  *time.Time `json:"started,omitempty"`
	Ended    *time.Time `json:"ended,omitempty"`
}

type wireLog struct {
	Seq       uint64    `json:"seq"`
	Asset     string    `json:"asset"`
	Attempt   int       `json:"attempt"`
	Stream    string    `json:"stream"`
	Time      time.Time `json:"time"`
	Text      string    `json:"text"`
	Truncated bool      `json:"truncated,omitempty"`
}

func (r wireRun) done() bool {
	return r.Status == "SUCCESS" || r.Status == "FAILURE" || r.Status == "CANCELED"
}

// elapsed is how long the run took, or has taken so far.
func (r wireRun) elapsed(now time.Time) time.Duration {
	start := r.Created
	if r.Started != nil {
		start = *r.Started
	}
	end := now
	if r.Ended != nil {
		end = *r.Ended
	}
	return end.Sub(start).Round(time.Millisecond)
}

// errRunFailed makes `materialize --wait` exit 1 when the run did not
// succeed; its message is what the last line already said.
var errRunFailed = errors.New("run did not succeed")

func newMaterializeCmd(g *globals) *cobra.Command {
	var partition string
	var wait bool
	cmd := &cobra.Command{
		Use:   "materialize SELECTION...",
		Short: "Run the materialize commands of a selection of assets",
		Long: `Launch a run on the server: the selected assets that have a materialize
command in freshet.yaml become steps, run in dependency order, in parallel
where they are independent, within max_concurrent and the pools' limits.

Selection terms:
  KEY          the asset
  +KEY         the asset and everything upstream of it
  KEY+         the asset and everything downstream of it
  group:NAME   the assets of a group
  tag:NAME     the assets with a tag

With --wait it follows the run to its end: a live progress line on a
terminal, one line per step change otherwise; it exits 1 if the run did not
succeed. Interrupting --wait leaves the run going (freshet cancel ID stops it).`,
		Example: `  freshet materialize marts/orders
  freshet materialize +marts/revenue --wait
  freshet materialize group:staging tag:daily --partition 2026-11-30`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(g.server)
			if err != nil {
				return err
			}
			body, _ := json.Marshal(map[string]any{"selection": args, "partition": partition})
			var raw json.RawMessage
			if err := c.do(cmd.Context(), http.MethodPost, "/api/v1/runs", "application/json", body, &raw); err != nil {
				return err
			}
			var run wireRun
			if err := json.Unmarshal(raw, &run); err != nil {
				return fmt.Errorf("decode the new run: %w", err)
			}
			out := cmd.OutOrStdout()
			if g.json && !wait {
				return printJSON(out, raw)
			}
			keys := make([]string, len(run.Steps))
			for i, s := range run.Steps {
				keys[i] = s.Asset
			}
			fmt.Fprintf(out, "run %s launched: %d step(s): %s\n", run.ID, len(run.Steps), strings.Join(keys, ", "))
			if !wait {
				fmt.Fprintf(out, "follow it with: freshet logs %s -f\n", run.ID)
				return nil
			}
			final, err := watchRun(cmd.Context(), c, out, run, isTerminal(out))
			if err != nil {
				return err
			}
			if final.Status != "SUCCESS" {
				return fmt.Errorf("%w: run %s %s: %s", errRunFailed, final.ID, final.Status, final.Reason)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&partition, "partition", "", "partition to build (passed to each step as FRESHET_PARTITION)")
	cmd.Flags().BoolVar(&wait, "wait", false, "follow the run to its end; exit 1 unless it succeeds")
	return cmd
}

// isTerminal reports whether w is a terminal (progress redraws in place).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// sse reads server-sent events from r and calls fn with each event's name
// and data, until r ends or fn returns an error.
func sse(r io.Reader, fn func(event string, data []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var event string
	var data []byte
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if event != "" || data != nil {
				if err := fn(event, data); err != nil {
					return err
				}
			}
			event, data = "", nil
		case strings.HasPrefix(line, ":"): // a comment: keep-alive
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			data = append(data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " ")...)
		}
	}
	return sc.Err()
}

// follow opens the run's live stream (GET .../logs?follow=true).
func (c *client) follow(ctx context.Context, id string, after uint64) (io.ReadCloser, error) {
	q := url.Values{"follow": {"true"}, "after": {fmt.Sprint(after)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/api/v1/runs/"+url.PathEscape(id)+"/logs?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	c.authorize(req)
	// No client timeout: a run may take hours; ctx ends the wait.
	resp, err := (&http.Client{Transport: c.http.Transport}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach Freshet at %s: %w", c.base, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		var eb errorBody
		if json.Unmarshal(data, &eb) == nil && eb.Error != nil {
			return nil, eb.Error
		}
		return nil, fmt.Errorf("follow run %s: HTTP %d", id, resp.StatusCode)
	}
	return resp.Body, nil
}

// watchRun follows a run to its end, drawing progress, and returns its
// final state.
func watchRun(ctx context.Context, c *client, out io.Writer, run wireRun, tty bool) (wireRun, error) {
	body, err := c.follow(ctx, run.ID, 0)
	if err != nil {
		return run, err
	}
	defer body.Close()
	steps := map[string]string{}
	for _, s := range run.Steps {
		steps[s.Asset] = s.Status
	}
	progress := func() string {
		var done, running, failed int
		for _, st := range steps {
			switch st {
			case "SUCCESS":
				done++
			case "STARTED", "UP_FOR_RETRY":
				running++
			case "FAILURE", "SKIPPED", "CANCELED":
				failed++
			}
		}
		return fmt.Sprintf("run %s %s: %d/%d done, %d running, %d failed or skipped, %s",
			run.ID, run.Status, done, len(steps), running, failed, run.elapsed(time.Now()).Round(100*time.Millisecond))
	}
	final := run
	err = sse(body, func(event string, data []byte) error {
		switch event {
		case "step":
			var s wireStep
			if json.Unmarshal(data, &s) != nil {
				return nil
			}
			steps[s.Asset] = s.Status
			if !tty {
				line := fmt.Sprintf("%s  %-12s %s", time.Now().Format("15:04:05"), s.Status, s.Asset)
				if s.Reason != "" {
					line += ": " + s.Reason
				}
				fmt.Fprintln(out, line)
			}
		case "run":
			var r wireRun
			if json.Unmarshal(data, &r) == nil {
				run.Status, run.Started, run.Ended = r.Status, r.Started, r.Ended
			}
		case "end":
			if json.Unmarshal(data, &final) != nil {
				return nil
			}
			return io.EOF
		}
		if tty {
			fmt.Fprintf(out, "\r\033[K%s", progress())
		}
		return nil
	})
	if tty {
		fmt.Fprintln(out)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		if ctx.Err() != nil {
			return final, fmt.Errorf("stopped waiting; run %s goes on (freshet cancel %s stops it)", run.ID, run.ID)
		}
		return final, err
	}
	if !final.done() {
		// The stream ended early (this client fell behind): read the state.
		if err := c.get(ctx, "/api/v1/runs/"+url.PathEscape(run.ID), nil, &final); err != nil {
			return final, err
		}
	}
	fmt.Fprintf(out, "run %s %s in %s", final.ID, final.Status, final.elapsed(time.Now()))
	if final.Reason != "" {
		fmt.Fprintf(out, ": %s", final.Reason)
	}
	fmt.Fprintln(out)
	return final, nil
}

func newRunsCmd(g *globals) *cobra.Command {
	var status, key, trigger string
	var limit int
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "List runs, newest first",
		Example: `  freshet runs
  freshet runs --status FAILURE --limit 5
  freshet runs --asset marts/orders --trigger automation`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{"limit": {fmt.Sprint(limit)}}
			for k, v := range map[string]string{"status": status, "asset": key, "trigger": trigger} {
				if v != "" {
					q.Set(k, v)
				}
			}
			var page struct {
				Runs []wireRun `json:"runs"`
			}
			if printed, err := g.fetch(cmd, "/api/v1/runs", q, &page); printed || err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATUS\tTRIGGER\tCREATED\tDURATION\tSELECTION")
			now := time.Now()
			for _, r := range page.Runs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Status, r.Trigger,
					r.Created.Local().Format("2006-01-02 15:04:05"), r.elapsed(now), strings.Join(r.Selection, " "))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&status, "status", "", "only runs in these statuses (comma-separated, e.g. FAILURE,CANCELED)")
	cmd.Flags().StringVar(&key, "asset", "", "only runs with a step for this asset")
	cmd.Flags().StringVar(&trigger, "trigger", "", "only runs with this trigger: manual, automation, reexecute, recovery")
	cmd.Flags().IntVar(&limit, "limit", 20, "how many runs to show")
	cmd.Flags().BoolVar(&g.json, "json", false, "print the API's JSON")
	return cmd
}

func newRunCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "run ID",
		Short:   "Show a run and its steps",
		Example: `  freshet run 019abc...`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var r wireRun
			if printed, err := g.fetch(cmd, "/api/v1/runs/"+url.PathEscape(args[0]), nil, &r); printed || err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "Run:\t%s\n", r.ID)
			fmt.Fprintf(tw, "Status:\t%s\n", r.Status)
			if r.Reason != "" {
				fmt.Fprintf(tw, "Reason:\t%s\n", r.Reason)
			}
			fmt.Fprintf(tw, "Trigger:\t%s\n", r.Trigger)
			if r.Parent != "" {
				fmt.Fprintf(tw, "Parent:\t%s\n", r.Parent)
			}
			fmt.Fprintf(tw, "Selection:\t%s\n", strings.Join(r.Selection, " "))
			if r.Partition != "" {
				fmt.Fprintf(tw, "Partition:\t%s\n", r.Partition)
			}
			fmt.Fprintf(tw, "Created:\t%s\n", r.Created.Local().Format(time.RFC3339))
			fmt.Fprintf(tw, "Duration:\t%s\n", r.elapsed(time.Now()))
			tw.Flush()
			fmt.Fprintln(out)
			tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "STEP\tSTATUS\tATTEMPTS\tDURATION\tREASON")
			for _, s := range r.Steps {
				d := "-"
				if s.Started != nil {
					end := time.Now()
					if s.Ended != nil {
						end = *s.Ended
					}
					d = end.Sub(*s.Started).Round(time.Millisecond).String()
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", s.Asset, s.Status, s.Attempts, d, dash(s.Reason))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&g.json, "json", false, "print the API's JSON")
	return cmd
}

func newLogsCmd(g *globals) *cobra.Command {
	var followFlag bool
	cmd := &cobra.Command{
		Use:   "logs ID",
		Short: "Print a run's output (stdout, stderr and Pipes logs of its steps)",
		Example: `  freshet logs 019abc...
  freshet logs 019abc... -f     # follow until the run ends`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(g.server)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			print := func(l wireLog) {
				text := l.Text
				if l.Truncated {
					text = "[output truncated: " + text + "]"
				}
				fmt.Fprintf(out, "%s  %s  %s  %s\n", l.Time.Local().Format("15:04:05.000"), l.Asset, l.Stream, text)
			}
			id := url.PathEscape(args[0])
			if followFlag {
				body, err := c.follow(cmd.Context(), args[0], 0)
				if err != nil {
					return err
				}
				defer body.Close()
				err = sse(body, func(event string, data []byte) error {
					switch event {
					case "log":
						var l wireLog
						if json.Unmarshal(data, &l) == nil {
							print(l)
						}
					case "end":
						var r wireRun
						if json.Unmarshal(data, &r) == nil {
							fmt.Fprintf(out, "run %s %s\n", r.ID, r.Status)
						}
						return io.EOF
					}
					return nil
				})
				if err != nil && !errors.Is(err, io.EOF) && cmd.Context().Err() == nil {
					return err
				}
				return nil
			}
			var after uint64
			for {
				var page struct {
					Lines     []wireLog `json:"lines"`
					NextAfter uint64    `json:"next_after"`
				}
				if err := c.get(cmd.Context(), "/api/v1/runs/"+id+"/logs", url.Values{"after": {fmt.Sprint(after)}, "limit": {"10000"}}, &page); err != nil {
					return err
				}
				for _, l := range page.Lines {
					print(l)
				}
				if len(page.Lines) == 0 {
					return nil
				}
				after = page.NextAfter
			}
		},
	}
	cmd.Flags().BoolVarP(&followFlag, "follow", "f", false, "follow the run's output until it ends")
	return cmd
}

func newCancelCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a run: queued steps are dropped, running ones stopped (SIGTERM, then SIGKILL)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(g.server)
			if err != nil {
				return err
			}
			var r wireRun
			if err := c.do(cmd.Context(), http.MethodPost, "/api/v1/runs/"+url.PathEscape(args[0])+"/cancel", "", nil, &r); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "run %s is being canceled (was %s)\n", r.ID, r.Status)
			return nil
		},
	}
}
