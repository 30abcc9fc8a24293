package kube_test

import (
	"context"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/executor"
	"github.com/freshet-dev/freshet/executor/kube"
	"github.com/freshet-dev/freshet/runs"
	"github.com/freshet-dev/freshet/store"
	"github.com/freshet-dev/freshet/store/embedded"
)

type nopEvents struct{}

func (nopEvents) Submit(context.Context, []asset.Event) error { return nil }

// TestReconcileAfterRestart: a run left STARTED by a dead server whose
// step's Job still runs. The restarted server's runs.Reconcile, through
// the launcher's StopOrphans, finds the Job by label and deletes it, and
// fails the step saying so.
func TestReconcileAfterRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dead := e.launcher(t, kube.Options{})
	j := job(t)
	j.RunID, j.Asset = "old-run", "marts/revenue"
	// The dead server's Launch goes on watching; it must see its Job go.
	left := start(context.Background(), dead, j)
	orphan := e.waitJob(t, selectorOf(j))

	ctx := context.Background()
	st, err := embedded.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Minute).UTC()
	if err := st.PutRuns(ctx, []store.RunRecord{{ID: "old-run", Status: "STARTED", Trigger: "manual",
		Selection: `["marts/revenue"]`, Owner: "dead", Created: old, Started: old, Updated: old}}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutSteps(ctx, []store.StepRecord{{RunID: "old-run", Asset: "marts/revenue", Status: "STARTED",
		Attempts: 1, Started: old, Updated: old}}); err != nil {
		t.Fatal(err)
	}
	svc := runs.New(runs.Options{Store: st, Events: nopEvents{}, Launcher: e.launcher(t, kube.Options{}),
		Limits: executor.Limits{MaxConcurrent: 1}, Owner: "restarted", FlushEvery: 20 * time.Millisecond})
	svc.SetSpecs([]asset.Spec{{Key: "marts/revenue", Materialize: &asset.MaterializeSpec{Argv: []string{"dbt", "build"}}}})
	sctx, cancel := context.WithCancel(ctx)
	svc.Start(sctx)
	defer func() {
		cancel()
		<-svc.Done()
		st.Close()
	}()
	got, err := svc.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Runs != 1 || got.Stopped != 1 || len(got.Failures) != 0 {
		t.Errorf("reconciled %+v; want one run with one Job stopped", got)
	}
	if _, err := e.cs.BatchV1().Jobs(e.ns).Get(ctx, orphan.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the orphan Job is still there: %v", err)
	}
	_, steps, err := st.Run(ctx, "old-run")
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 1 || steps[0].Status != "FAILURE" || !strings.Contains(steps[0].Reason, "1 Job(s) still running were deleted") {
		t.Errorf("steps %+v", steps)
	}
	if o := left.wait(t); o.Err == nil {
		t.Error("the dead server's Launch succeeded after its Job was deleted")
	}
}
