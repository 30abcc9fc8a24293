package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/freshet-dev/freshet/executor/pipes"
)

// `freshet report` is the Dagster Pipes client for shell scripts: it
// writes one message to the channel the executor named in the step's
// environment, and exits.

func newReportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Report metadata, check results and logs from inside a materialize command",
		Long: `Report back to Freshet from inside a step's materialize command: the
materialization's metadata, data quality check results, log messages.

The executor starts every step with DAGSTER_PIPES_CONTEXT and
DAGSTER_PIPES_MESSAGES set (the Dagster Pipes protocol); each 'freshet
report' appends one message to the channel they name and exits, so a shell
script can call it as often as it likes. Outside a step (no
DAGSTER_PIPES_MESSAGES) it fails and says so.

A step that exits 0 records a materialization whether it reported one or
not; 'freshet report materialization' gives that event its metadata and
data version (reported several times, the entries add up, later values
win). Check results become check_result events, recorded when the step
ends, whatever its exit status. Log messages show in the run's logs at
once, on the stream "pipes".`,
		Example: `  # In the shell script a materialize command runs:
  freshet report log "loading orders since $SINCE"
  rows=$(psql -tAc 'select count(*) from staging.orders')
  freshet report check --name orders_not_empty --passed --metadata rows=$rows
  freshet report check --name no_late_rows --failed --severity warn --metadata late=3
  freshet report materialization --metadata rows=$rows --metadata size_mb=4.5 \
      --metadata source:url=s3://lake/orders/ --data-version "$(git rev-parse --short HEAD)"`,
	}
	cmd.AddCommand(newReportMaterializationCmd(), newReportCheckCmd(), newReportLogCmd())
	return cmd
}

// metadataFlags are --metadata and --metadata-json, shared by
// materialization and check.
type metadataFlags struct {
	pairs []string
	json  string
}

const metadataHelp = `metadata entry NAME=VALUE, or NAME:TYPE=VALUE with TYPE int, float, bool,
text, url, path, md, json or timestamp (repeatable). Without a type an
integer is int, another number float, true/false bool, anything else text
(url when it has a scheme such as s3:// or https://)`

func (m *metadataFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&m.pairs, "metadata", nil, metadataHelp)
	cmd.Flags().StringVar(&m.json, "metadata-json", "", `metadata as a JSON object, e.g. '{"rows": 120, "schema": {"columns": ["id"]}}'; each value's type is inferred, or given as {"raw_value": V, "type": T}`)
}

// build returns the entries in the Pipes form, --metadata-json first so
// that --metadata wins on a name in both.
func (m *metadataFlags) build() (map[string]pipes.MetadataValue, error) {
	out := map[string]pipes.MetadataValue{}
	if m.json != "" {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal([]byte(m.json), &obj); err != nil {
			return nil, fmt.Errorf("--metadata-json: want a JSON object: %w", err)
		}
		for name, raw := range obj {
			var v pipes.MetadataValue
			if err := v.UnmarshalJSON(raw); err != nil {
				return nil, fmt.Errorf("--metadata-json: %s: %w", name, err)
			}
			out[name] = v
		}
	}
	for _, p := range m.pairs {
		name, v, err := parseMetadataPair(p)
		if err != nil {
			return nil, fmt.Errorf("--metadata %q: %w", p, err)
		}
		out[name] = v
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// parseMetadataPair reads NAME=VALUE or NAME:TYPE=VALUE.
func parseMetadataPair(p string) (string, pipes.MetadataValue, error) {
	lhs, value, ok := strings.Cut(p, "=")
	if !ok {
		return "", pipes.MetadataValue{}, errors.New("want NAME=VALUE or NAME:TYPE=VALUE")
	}
	name, typ, typed := strings.Cut(lhs, ":")
	if name = strings.TrimSpace(name); name == "" {
		return "", pipes.MetadataValue{}, errors.New("empty name")
	}
	raw := func(v any) json.RawMessage { b, _ := json.Marshal(v); return b }
	if !typed {
		if b, err := strconv.ParseBool(value); err == nil && (value == "true" || value == "false") {
			return name, pipes.MetadataValue{Type: "bool", Raw: raw(b)}, nil
		}
		if n, err := strconv.ParseInt(value, 10, 64); err == nil {
			return name, pipes.MetadataValue{Type: "int", Raw: raw(n)}, nil
		}
		if f, err := strconv.ParseFloat(value, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return name, pipes.MetadataValue{Type: "float", Raw: raw(f)}, nil
		}
		return name, pipes.MetadataValue{Type: pipes.TypeInfer, Raw: raw(value)}, nil
	}
	switch typ {
	case "int":
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return "", pipes.MetadataValue{}, fmt.Errorf("%q is not an int", value)
		}
		return name, pipes.MetadataValue{Type: typ, Raw: raw(n)}, nil
	case "float":
		f, err := strconv.ParseFloat(value, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return "", pipes.MetadataValue{}, fmt.Errorf("%q is not a finite float", value)
		}
		return name, pipes.MetadataValue{Type: typ, Raw: raw(f)}, nil
	case "bool":
		b, err := strconv.ParseBool(value)
		if err != nil {
			return "", pipes.MetadataValue{}, fmt.Errorf("%q is not true or false", value)
		}
		return name, pipes.MetadataValue{Type: typ, Raw: raw(b)}, nil
	case "text", "url", "path", "md":
		return name, pipes.MetadataValue{Type: typ, Raw: raw(value)}, nil
	case "json":
		v := bytes.TrimSpace([]byte(value))
		if !json.Valid(v) {
			return "", pipes.MetadataValue{}, errors.New("the value is not valid JSON")
		}
		var buf bytes.Buffer
		_ = json.Compact(&buf, v)
		return name, pipes.MetadataValue{Type: typ, Raw: buf.Bytes()}, nil
	case "timestamp":
		if f, err := strconv.ParseFloat(value, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return name, pipes.MetadataValue{Type: typ, Raw: raw(f)}, nil
		}
		t, err := time.Parse(time.RFC3339Nano, value)
		if err != nil {
			return "", pipes.MetadataValue{}, fmt.Errorf("%q is neither Unix seconds nor an RFC 3339 time", value)
		}
		return name, pipes.MetadataValue{Type: typ, Raw: raw(float64(t.UnixNano()) / 1e9)}, nil
	}
	return "", pipes.MetadataValue{}, fmt.Errorf("unknown type %q: use int, float, bool, text, url, path, md, json or timestamp", typ)
}

// reportChannel opens the step's messages channel.
func reportChannel(cmd *cobra.Command) (*pipes.Writer, error) {
	mp, err := pipes.ReadMessagesParams(os.Getenv(pipes.EnvMessages))
	if errors.Is(err, pipes.ErrNoSession) {
		return nil, fmt.Errorf("not inside a Freshet step: %s is not set. 'freshet report' sends reports from a materialize command run by the Freshet executor, which sets it (see docs/executor.md)", pipes.EnvMessages)
	}
	if err != nil {
		return nil, err
	}
	return pipes.NewWriter(mp, cmd.OutOrStdout(), cmd.ErrOrStderr())
}

// reportAsset is the asset to report for: --asset (one the step
// materializes), else the context's only asset, else $FRESHET_ASSET.
func reportAsset(assetFlag string) (string, error) {
	var keys []string
	if v := os.Getenv(pipes.EnvContext); v != "" {
		c, err := pipes.ReadContext(v)
		if err != nil {
			return "", err
		}
		keys = c.AssetKeys
	}
	switch {
	case assetFlag != "":
		if len(keys) > 0 && !slices.Contains(keys, assetFlag) {
			return "", fmt.Errorf("--asset %s: this step materializes %s", assetFlag, strings.Join(keys, ", "))
		}
		return assetFlag, nil
	case len(keys) == 1:
		return keys[0], nil
	case len(keys) > 1:
		return "", fmt.Errorf("this step materializes %s: say which with --asset", strings.Join(keys, ", "))
	case os.Getenv("FRESHET_ASSET") != "":
		return os.Getenv("FRESHET_ASSET"), nil
	}
	return "", fmt.Errorf("no asset to report for: %s names none and FRESHET_ASSET is not set; pass --asset", pipes.EnvContext)
}

// openReport is the channel and the asset of a report.
func openReport(cmd *cobra.Command, assetFlag string) (*pipes.Writer, string, error) {
	w, err := reportChannel(cmd)
	if err != nil {
		return nil, "", err
	}
	key, err := reportAsset(assetFlag)
	return w, key, err
}

func sendReport(w *pipes.Writer, method pipes.Method, params any) error {
	m, err := pipes.NewMessage(method, params)
	if err != nil {
		return err
	}
	return w.Write(m)
}

func newReportMaterializationCmd() *cobra.Command {
	var (
		md          metadataFlags
		dataVersion string
		assetKey    string
	)
	cmd := &cobra.Command{
		Use:   "materialization",
		Short: "Report the step's materialization: its metadata and data version",
		Long: `Give the materialization the step records when it exits 0 its metadata and
data version. Reported more than once, the entries add up and later values
win. duration_s and attempts are always the executor's.`,
		Example: `  freshet report materialization --metadata rows=120 --metadata ratio=0.93 --metadata ok=true
  freshet report materialization --metadata label:text=0042 --metadata dashboard:url=https://bi/x
  freshet report materialization --metadata-json "$(jq -c '{schema: .schema}' out.json)" --data-version v42`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			meta, err := md.build()
			if err != nil {
				return err
			}
			w, key, err := openReport(cmd, assetKey)
			if err != nil {
				return err
			}
			var dv *string
			if dataVersion != "" {
				dv = &dataVersion
			}
			return sendReport(w, pipes.MethodMaterialization, map[string]any{"asset_key": key, "data_version": dv, "metadata": meta})
		},
	}
	md.add(cmd)
	cmd.Flags().StringVar(&dataVersion, "data-version", "", "the data version of what the step wrote (a hash, a commit, a snapshot id)")
	cmd.Flags().StringVar(&assetKey, "asset", "", "asset key (default: the step's asset)")
	return cmd
}

func newReportCheckCmd() *cobra.Command {
	var (
		md             metadataFlags
		name, severity string
		passed, failed bool
		assetKey       string
	)
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Report a data quality check result",
		Long: `Report the result of a data quality check on the step's asset: a
check_result event, recorded when the step ends (whatever its exit status).
Give exactly one of --passed and --failed.`,
		Example: `  freshet report check --name orders_not_empty --passed --metadata rows=120
  freshet report check --name no_late_rows --failed --severity warn --metadata late=3`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if strings.TrimSpace(name) == "" {
				return errors.New("--name is required")
			}
			if passed == failed {
				return errors.New("give exactly one of --passed and --failed")
			}
			sev := strings.ToUpper(severity)
			if sev != "WARN" && sev != "ERROR" {
				return fmt.Errorf("--severity %q: use warn or error", severity)
			}
			meta, err := md.build()
			if err != nil {
				return err
			}
			w, key, err := openReport(cmd, assetKey)
			if err != nil {
				return err
			}
			return sendReport(w, pipes.MethodCheck, map[string]any{"asset_key": key, "check_name": name, "passed": passed, "severity": sev, "metadata": meta})
		},
	}
	md.add(cmd)
	cmd.Flags().StringVar(&name, "name", "", "the check's name (required)")
	cmd.Flags().BoolVar(&passed, "passed", false, "the check passed")
	cmd.Flags().BoolVar(&failed, "failed", false, "the check failed")
	cmd.Flags().StringVar(&severity, "severity", "error", "how bad a failure is: warn or error")
	cmd.Flags().StringVar(&assetKey, "asset", "", "asset key (default: the step's asset)")
	return cmd
}

func newReportLogCmd() *cobra.Command {
	var level string
	cmd := &cobra.Command{
		Use:   "log TEXT...",
		Short: "Write a message to the run's logs",
		Long: `Write a message to the step's logs, on the stream "pipes" with its level
("[warning] disk almost full"). The words are joined with spaces.`,
		Example: `  freshet report log "loaded 120 rows"
  freshet report log --level warn "source is 2h late; using yesterday's snapshot"`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			lv, ok := map[string]string{"debug": "DEBUG", "info": "INFO", "warn": "WARNING", "warning": "WARNING", "error": "ERROR", "critical": "CRITICAL"}[strings.ToLower(level)]
			if !ok {
				return fmt.Errorf("--level %q: use debug, info, warn, error or critical", level)
			}
			w, err := reportChannel(cmd)
			if err != nil {
				return err
			}
			return sendReport(w, pipes.MethodLog, map[string]any{"message": strings.Join(args, " "), "level": lv})
		},
	}
	cmd.Flags().StringVar(&level, "level", "info", "debug, info, warn, error or critical")
	return cmd
}
