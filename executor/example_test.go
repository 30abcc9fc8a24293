package executor_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/config"
	"github.com/freshet-dev/freshet/executor"
)

const exampleConfig = `
max_concurrent: 4
pools:
  warehouse: {limit: 1}
assets:
  - key: raw/orders                 # a source: no materialize command
  - key: staging/orders
    deps: [raw/orders]
    materialize:
      argv: [sh, -c, 'echo "building $FRESHET_ASSET as $DB_USER"']
      env: {DB_USER: "${EXAMPLE_DB_USER}"}
      pool: warehouse
  - key: marts/revenue
    deps: [staging/orders]
    materialize:
      argv: [sh, -c, 'echo "warehouse unreachable" >&2; exit 3']
      retries: 1
  - key: marts/report
    deps: [marts/revenue]
    materialize: {argv: ["true"]}
`

// printer prints log lines and events as they come.
type printer struct{ mu sync.Mutex }

func (p *printer) StepLog(l executor.LogLine) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Printf("log   %s %s: %s\n", l.Asset, l.Stream, l.Text)
}

func (p *printer) Record(_ context.Context, es []asset.Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range es {
		fmt.Printf("event %s %s attempts=%d\n", e.Kind, e.Asset, e.Metadata[executor.MetaAttempts].Int)
	}
	return nil
}

func Example() {
	f, err := config.Parse("freshet.yaml", []byte(exampleConfig))
	if err != nil {
		panic(err)
	}
	plan, err := executor.NewPlan(f.Assets, []string{"+marts/report"})
	if err != nil {
		panic(err)
	}
	for _, s := range plan.Steps {
		fmt.Printf("step  %s after %v\n", s.Key, s.Upstream)
	}
	for _, n := range plan.NotSteps {
		fmt.Printf("not a step: %s (%s)\n", n.Key, n.Reason)
	}

	out := &printer{}
	e := executor.New(&executor.LocalLauncher{Grace: 5 * time.Second, Log: slog.New(slog.DiscardHandler)}, executor.Options{
		Limits:  executor.LimitsFromConfig(f),
		Backoff: executor.Backoff{Initial: 10 * time.Millisecond},
		LookupEnv: func(name string) (string, bool) {
			return map[string]string{"EXAMPLE_DB_USER": "analyst"}[name], name == "EXAMPLE_DB_USER"
		},
		Recorder: out,
		Logs:     out,
		Log:      slog.New(slog.DiscardHandler),
	})
	run, err := e.Start(context.Background(), plan, executor.RunRequest{})
	if err != nil {
		panic(err)
	}
	res, _ := run.Wait(context.Background())
	fmt.Println("run  ", res.Status, "-", res.Reason)
	for _, s := range res.Steps {
		fmt.Println(strings.TrimSpace(fmt.Sprintf("      %-15s %-8s attempts=%d %s", s.Asset, s.Status, s.Attempts, s.Reason)))
	}
	// Output:
	// step  staging/orders after []
	// step  marts/revenue after [staging/orders]
	// step  marts/report after [marts/revenue]
	// not a step: raw/orders (no materialize command)
	// log   staging/orders stdout: building staging/orders as analyst
	// event materialization staging/orders attempts=1
	// log   marts/revenue stderr: warehouse unreachable
	// log   marts/revenue stderr: warehouse unreachable
	// event materialization_failed marts/revenue attempts=2
	// run   FAILURE - 1 step(s) failed: [marts/revenue]
	// staging/orders  SUCCESS  attempts=1
	// marts/revenue   FAILURE  attempts=2 exit status 3; stderr: warehouse unreachable
	// marts/report    SKIPPED  attempts=0 upstream step marts/revenue failed
}
