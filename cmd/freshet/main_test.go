package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
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
// $PORT and $FRESHET_SERVER pointing at it.
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
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"waitfor": waitFor,
		},
	})
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
