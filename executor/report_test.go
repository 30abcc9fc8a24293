package executor

import (
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/freshet-dev/freshet/asset"
)

// TestFreshetReport runs a shell-script step that reports with the real
// `freshet report` binary, on a file channel and on stderr, and checks
// what the Recorder and the LogSink receive.
func TestFreshetReport(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "freshet")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/freshet").CombinedOutput(); err != nil {
		t.Fatalf("build freshet: %v\n%s", err, out)
	}
	for _, m := range pipesModes[:3] {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			prog := script(t, dir, "build.sh", `set -e
freshet="$1"
"$freshet" report log "loading orders"
"$freshet" report check --name orders_not_empty --passed --metadata rows=120
"$freshet" report check --name no_late_rows --failed --severity warn --metadata late=3
"$freshet" report materialization --metadata rows=120 --metadata size_mb=4.5 --metadata source:url=s3://lake/orders/ \
    --metadata-json '{"schema": {"columns": ["id", "amount"]}}' --data-version v42
echo done`)
			opts := m.opts
			opts.Dir = t.TempDir()
			e, s := newExec(t, Options{Pipes: opts})
			res := runPlan(t, e, []asset.Spec{spec("staging/orders", nil, prog, bin)}, "staging/orders")
			if res.Status != RunSuccess {
				t.Fatalf("run %s: %s", res.Status, res.Reason)
			}
			evs := s.eventsFor("staging/orders")
			if len(evs) != 3 {
				t.Fatalf("events %+v", evs)
			}
			if c := evs[0]; c.Kind != asset.KindCheckResult || *c.Check != (asset.CheckResult{Name: "orders_not_empty", Passed: true, Severity: asset.SeverityError}) || !reflect.DeepEqual(c.Metadata, asset.Metadata{"rows": asset.Int(120)}) {
				t.Errorf("first check %+v %+v", c, c.Check)
			}
			if c := evs[1]; c.Kind != asset.KindCheckResult || *c.Check != (asset.CheckResult{Name: "no_late_rows", Passed: false, Severity: asset.SeverityWarn}) || !reflect.DeepEqual(c.Metadata, asset.Metadata{"late": asset.Int(3)}) {
				t.Errorf("second check %+v %+v", c, c.Check)
			}
			mat := evs[2]
			delete(mat.Metadata, MetaDuration)
			want := asset.Metadata{
				"rows": asset.Int(120), "size_mb": asset.Float(4.5), "source": asset.URL("s3://lake/orders/"),
				"schema": asset.JSONValue(`{"columns":["id","amount"]}`), MetaDataVersion: asset.Text("v42"), MetaAttempts: asset.Int(1),
			}
			if mat.Kind != asset.KindMaterialization || !reflect.DeepEqual(mat.Metadata, want) {
				t.Errorf("materialization %s %v\nwant metadata %v", mat.Kind, mat.Metadata, want)
			}
			if got := s.texts("staging/orders", PipesStream); !slices.Equal(got, []string{"[info] loading orders"}) {
				t.Errorf("pipes lines %q", got)
			}
			if got := s.texts("staging/orders", Stdout); !slices.Equal(got, []string{"done"}) {
				t.Errorf("stdout %q", got)
			}
			if got := s.texts("staging/orders", Stderr); len(got) != 0 {
				t.Errorf("stderr %q", got)
			}
			if st := e.PipesStats(); st != (PipesStats{Messages: 4}) {
				t.Errorf("stats %+v", st)
			}
		})
	}
}
