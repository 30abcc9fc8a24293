// Command pipeschild is a Dagster Pipes child written from the protocol's
// specification alone (dagster_pipes: the bootstrap variables are
// base64(zlib(JSON)), the context is {"path": FILE} or {"data": {...}},
// messages go to {"path": FILE} or {"stdio": "stdout"|"stderr"}, one JSON
// object per line with __dagster_pipes_version, method and params). It
// imports nothing from Freshet, so the executor's tests check Freshet
// against the protocol rather than against itself.
//
//	pipeschild report     every kind of message, then exit 0
//	pipeschild silent     no message at all, exit 0
//	pipeschild malformed  broken lines among good ones, exit 0
//	pipeschild fail       a log, stderr output, closed with an exception, exit 1
//	pipeschild checkfail  a check result and a materialization, then exit 2
//	pipeschild logs N     N log messages
//	pipeschild stdout N   N lines on stdout and no message
package main

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
)

func main() {
	if len(os.Args) < 2 {
		die("usage: pipeschild report|silent|malformed|fail|logs N|stdout N")
	}
	switch os.Args[1] {
	case "silent":
		return
	case "stdout":
		n := count()
		w := bufioLike{os.Stdout}
		for i := range n {
			w.line(fmt.Sprintf("line %d of %d", i+1, n))
		}
		return
	}
	ctx, form := loadContext()
	ch := openChannel()
	switch os.Args[1] {
	case "report":
		report(ch, ctx, form)
	case "malformed":
		malformed(ch)
	case "fail":
		ch.send("opened", map[string]any{"extras": map[string]any{}})
		ch.send("log", map[string]any{"message": "about to fail", "level": "ERROR"})
		fmt.Fprintln(os.Stderr, "Traceback (most recent call last):")
		fmt.Fprintln(os.Stderr, "ValueError: bad input")
		ch.send("closed", map[string]any{"exception": map[string]any{
			"message": "ValueError: bad input\n",
			"stack":   []string{"  File \"job.py\", line 3, in <module>\n    load()\n"},
			"name":    "ValueError",
			"cause":   nil,
			"context": nil,
		}})
		os.Exit(1)
	case "checkfail":
		ch.send("report_asset_check", map[string]any{"asset_key": nil, "check_name": "c", "passed": false, "severity": "ERROR", "metadata": nil})
		ch.send("report_asset_materialization", map[string]any{"asset_key": nil, "data_version": nil, "metadata": map[string]any{"rows": map[string]any{"type": "int", "raw_value": 1}}})
		os.Exit(2)
	case "logs":
		n := count()
		ch.send("opened", map[string]any{"extras": map[string]any{}})
		for i := range n {
			ch.send("log", map[string]any{"message": fmt.Sprintf("message %d of %d", i+1, n), "level": "INFO"})
		}
		ch.send("closed", map[string]any{})
	default:
		die("unknown scenario " + os.Args[1])
	}
}

func count() int {
	if len(os.Args) < 3 {
		die("missing count")
	}
	n, err := strconv.Atoi(os.Args[2])
	if err != nil {
		die(err.Error())
	}
	return n
}

func report(ch *channel, ctx map[string]any, form string) {
	ch.send("opened", map[string]any{"extras": map[string]any{}})
	// What this child understood of its context and environment, for the
	// test to compare with what it set.
	ch.send("report_custom_message", map[string]any{"payload": map[string]any{
		"form":                      form,
		"asset_keys":                ctx["asset_keys"],
		"run_id":                    ctx["run_id"],
		"retry_number":              ctx["retry_number"],
		"partition_key":             ctx["partition_key"],
		"partition_key_range":       ctx["partition_key_range"],
		"partition_time_window":     ctx["partition_time_window"],
		"code_version_by_asset_key": ctx["code_version_by_asset_key"],
		"provenance_by_asset_key":   ctx["provenance_by_asset_key"],
		"job_name":                  ctx["job_name"],
		"extras":                    ctx["extras"],
		"env": map[string]string{
			"FRESHET_RUN_ID":    os.Getenv("FRESHET_RUN_ID"),
			"FRESHET_ASSET":     os.Getenv("FRESHET_ASSET"),
			"FRESHET_PARTITION": os.Getenv("FRESHET_PARTITION"),
			"TRACEPARENT":       os.Getenv("TRACEPARENT"),
		},
	}})
	ch.send("log", map[string]any{"message": "loading rows", "level": "INFO"})
	ch.send("log", map[string]any{"message": "slow source", "level": "WARNING"})
	fmt.Println("plain stdout line")
	keys, _ := ctx["asset_keys"].([]any)
	key := ""
	if len(keys) == 1 {
		key, _ = keys[0].(string)
	}
	typed := func(t string, v any) map[string]any { return map[string]any{"type": t, "raw_value": v} }
	ch.send("report_asset_check", map[string]any{
		"asset_key":  key,
		"check_name": "not_null",
		"passed":     true,
		"severity":   "ERROR",
		"metadata":   map[string]any{"nulls": typed("int", 0)},
	})
	ch.send("report_asset_check", map[string]any{
		"asset_key":  key,
		"check_name": "fresh_enough",
		"passed":     false,
		"severity":   "WARN",
		"metadata":   nil,
	})
	ch.send("report_asset_materialization", map[string]any{
		"asset_key":    key,
		"data_version": "v42",
		"metadata": map[string]any{
			"rows":       typed("int", 120),
			"ratio":      typed("float", 0.25),
			"whole":      typed("float", 2),
			"ok":         typed("bool", true),
			"note":       typed("text", "hello"),
			"readme":     typed("md", "# Title"),
			"where":      typed("path", "/data/out.parquet"),
			"link":       typed("url", "https://example.com/run"),
			"schema":     typed("json", map[string]any{"columns": []string{"id", "amount"}}),
			"table":      typed("table", map[string]any{"records": []any{}}),
			"loaded_at":  typed("timestamp", 1700000000.5),
			"inferred_n": typed("__infer__", 7),
			"inferred_u": typed("__infer__", "s3://bucket/key"),
			"nothing":    typed("null", nil),
			"duration_s": typed("float", 9999.0), // the executor's own value wins
		},
	})
	ch.send("closed", map[string]any{})
}

func malformed(ch *channel) {
	ch.send("opened", map[string]any{"extras": map[string]any{}})
	ch.raw(`{"__dagster_pipes_version": "0.1", "method": "no_such_method", "params": {}}`)
	ch.raw(`{"__dagster_pipes_version": "0.1", "method": "report_asset_check", "params": {"passed": true}}`)
	ch.raw(`{"__dagster_pipes_version": "0.1", "method": "log", "params": {"message": "cut`)
	ch.raw(`{"__dagster_pipes_version": "0.1", "method": "report_asset_materialization", "params": {"metadata": {"rows": {"type": "int", "raw_value": "many"}, "kept": {"type": "int", "raw_value": 5}}}}`)
	ch.send("log", map[string]any{"message": "still here", "level": "INFO"})
	ch.send("closed", nil)
}

// channel writes messages where DAGSTER_PIPES_MESSAGES says.
type channel struct {
	path string
	w    io.Writer
}

func openChannel() *channel {
	var p map[string]any
	decode(os.Getenv("DAGSTER_PIPES_MESSAGES"), &p)
	if path, ok := p["path"].(string); ok {
		return &channel{path: path}
	}
	switch p["stdio"] {
	case "stdout":
		return &channel{w: os.Stdout}
	case "stderr":
		return &channel{w: os.Stderr}
	}
	die(fmt.Sprintf("DAGSTER_PIPES_MESSAGES names no channel: %v", p))
	return nil
}

func (c *channel) send(method string, params any) {
	b, err := json.Marshal(map[string]any{"__dagster_pipes_version": "0.1", "method": method, "params": params})
	if err != nil {
		die(err.Error())
	}
	c.raw(string(b))
}

// raw appends one line, reopening the file each time as the Python writer
// does.
func (c *channel) raw(line string) {
	if c.w != nil {
		if _, err := io.WriteString(c.w, line+"\n"); err != nil {
			die(err.Error())
		}
		return
	}
	f, err := os.OpenFile(c.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		die(err.Error())
	}
	if _, err := f.WriteString(line + "\n"); err != nil {
		die(err.Error())
	}
	if err := f.Close(); err != nil {
		die(err.Error())
	}
}

// loadContext reads DAGSTER_PIPES_CONTEXT: {"path": FILE} or {"data": ...}.
func loadContext() (map[string]any, string) {
	var p map[string]any
	decode(os.Getenv("DAGSTER_PIPES_CONTEXT"), &p)
	if path, ok := p["path"].(string); ok {
		b, err := os.ReadFile(path)
		if err != nil {
			die(err.Error())
		}
		var ctx map[string]any
		if err := json.Unmarshal(b, &ctx); err != nil {
			die("context file: " + err.Error())
		}
		return ctx, "path"
	}
	if ctx, ok := p["data"].(map[string]any); ok {
		return ctx, "data"
	}
	die(fmt.Sprintf("DAGSTER_PIPES_CONTEXT has neither path nor data: %v", p))
	return nil, ""
}

// decode is base64, then zlib, then JSON.
func decode(s string, v any) {
	if s == "" {
		die("a DAGSTER_PIPES_* variable is not set")
	}
	z, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		die("base64: " + err.Error())
	}
	r, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		die("zlib: " + err.Error())
	}
	b, err := io.ReadAll(r)
	if err != nil {
		die("zlib: " + err.Error())
	}
	if err := json.Unmarshal(b, v); err != nil {
		die("json: " + err.Error())
	}
}

type bufioLike struct{ w io.Writer }

func (b bufioLike) line(s string) {
	if _, err := io.WriteString(b.w, s+"\n"); err != nil {
		die(err.Error())
	}
}

func die(msg string) {
	fmt.Fprintln(os.Stderr, "pipeschild:", msg)
	os.Exit(3)
}
