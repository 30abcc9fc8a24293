package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets the scripts run `freshet` as a real subprocess of the test
// binary, so a script can start a server in the background and talk to it
// over a socket with the CLI, as a user would.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"freshet": func() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs testdata/script/*.txtar. Each script gets a free port in
// $PORT and $FRESHET_SERVER pointing at it, and the clock variables of
// setClock: the server judges freshness against the real clock, so a script
// never writes a fixed date, only times relative to when it started.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return err
			}
			port := ln.Addr().(*net.TCPAddr).Port
			ln.Close()
			env.Setenv("PORT", strconv.Itoa(port))
			env.Setenv("FRESHET_SERVER", fmt.Sprintf("http://127.0.0.1:%d", port))
			shop, err := filepath.Abs(filepath.Join("..", "..", "dbt", "testdata", "shop"))
			if err != nil {
				return err
			}
			env.Setenv("DBT_SHOP", shop) // the dbt test project's artifacts
			setClock(env, time.Now())
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"waitfor": waitFor,
			"subst":   subst,
		},
	})
}

// clockAgo names the past times a script can use: $NOW_MINUS_1H is an hour
// before $NOW. Add a row when a script needs another.
var clockAgo = []struct {
	name string
	d    time.Duration
}{
	{"1H", time.Hour},
	{"2H", 2 * time.Hour},
	{"1D", 24 * time.Hour},
	{"2D", 48 * time.Hour},
	{"3D", 72 * time.Hour},
	{"7D", 7 * 24 * time.Hour},
}

// setClock sets $NOW (RFC 3339, UTC, whole seconds), $NOW_MINUS_<ago> for
// each row of clockAgo and $TODAY (2006-01-02, UTC), all from now.
func setClock(env *testscript.Env, now time.Time) {
	now = now.UTC().Truncate(time.Second)
	env.Setenv("NOW", now.Format(time.RFC3339))
	for _, a := range clockAgo {
		env.Setenv("NOW_MINUS_"+a.name, now.Add(-a.d).Format(time.RFC3339))
	}
	env.Setenv("TODAY", now.Format(time.DateOnly))
}

// subst rewrites each FILE in place, replacing ${VAR} and $VAR with the
// script's environment: testscript does not expand variables inside archive
// files, and event files need the times of setClock. An unset variable is
// an error rather than an empty string, so a typo cannot pass silently.
func subst(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: subst FILE...")
	}
	for _, name := range args {
		var unset []string
		out := os.Expand(ts.ReadFile(name), func(v string) string {
			val := ts.Getenv(v)
			if val == "" {
				unset = append(unset, v)
			}
			return val
		})
		if len(unset) > 0 {
			ts.Fatalf("subst %s: unset variables %s", name, strings.Join(unset, ", "))
		}
		ts.Check(os.WriteFile(ts.MkAbs(name), []byte(out), 0o666))
	}
}

// waitFor polls a URL until it answers 200, and if TEXT is given until the
// body contains it (at most 60 s): servers started with & need a moment,
// and event history reaches the store shortly after acknowledgement.
func waitFor(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: waitfor URL [TEXT]")
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(args[0])
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && (len(args) == 1 || strings.Contains(string(body), args[1])) {
				return
			}
		}
		if time.Now().After(deadline) {
			ts.Fatalf("%s did not answer 200 within 60s (last error: %v)", args[0], err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
