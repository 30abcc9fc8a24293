package executor

import (
	"fmt"
	"math/rand/v2"
	"os/exec"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/executor/pipes"
)

// BenchmarkLaunchOverhead compares, in the same loop, a raw os/exec start
// and wait of /bin/true with the local launcher running it (process group,
// pipes, line capture, group cleanup). extra_ms/op is the launcher's cost
// per step.
func BenchmarkLaunchOverhead(b *testing.B) {
	l := &LocalLauncher{Log: quietLog()}
	job := Job{RunID: "bench", Asset: "a", Attempt: 1, Argv: []string{"/bin/true"}, Env: []string{"FRESHET_RUN_ID=bench"}}
	var raw, launched time.Duration
	for b.Loop() {
		t0 := time.Now()
		if err := exec.Command("/bin/true").Run(); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if o := l.Launch(b.Context(), job, func(Stream, time.Time, string) {}); o.Err != nil {
			b.Fatal(o.Err)
		}
		t2 := time.Now()
		raw += t1.Sub(t0)
		launched += t2.Sub(t1)
	}
	n := float64(b.N)
	b.ReportMetric(float64(raw.Microseconds())/1000/n, "raw_ms/op")
	b.ReportMetric(float64(launched.Microseconds())/1000/n, "launcher_ms/op")
	b.ReportMetric(float64((launched-raw).Microseconds())/1000/n, "extra_ms/op")
}

// randomDAG returns n assets of group dag, each depending on up to 3 of the 40 before it.
func randomDAG(n int, seed uint64, argv ...string) []asset.Spec {
	rng := rand.New(rand.NewPCG(seed, 42))
	specs := make([]asset.Spec, n)
	for i := range specs {
		specs[i] = asset.Spec{Key: asset.Key(fmt.Sprintf("n%04d", i)), Group: "dag", Materialize: &asset.MaterializeSpec{Argv: argv}}
		if i == 0 {
			continue
		}
		for range rng.IntN(4) {
			d := specs[max(0, i-40)+rng.IntN(min(i, 40))].Key
			if !slices.Contains(specs[i].Deps, d) {
				specs[i].Deps = append(specs[i].Deps, d)
			}
		}
	}
	return specs
}

// idealSchedule returns the lower bound of any schedule of p's steps, each
// taking d, on m slots: max(critical path, ceil(n/m)*d); and the makespan
// of a zero-overhead list schedule with the executor's priority.
func idealSchedule(p *Plan, d time.Duration, m int) (lower, listSched time.Duration) {
	n := len(p.Steps)
	index := make(map[asset.Key]int, n)
	for i, s := range p.Steps {
		index[s.Key] = i
	}
	depth := make([]int, n) // steps on the longest chain ending here
	for i, s := range p.Steps {
		depth[i] = 1
		for _, u := range s.Upstream {
			depth[i] = max(depth[i], depth[index[u]]+1)
		}
	}
	cp := slices.Max(depth)
	lower = time.Duration(max(cp, (n+m-1)/m)) * d

	// Discrete simulation: all steps take one tick.
	height := make([]int, n)
	down := make([][]int, n)
	pending := make([]int, n)
	for i, s := range p.Steps {
		for _, u := range s.Upstream {
			down[index[u]] = append(down[index[u]], i)
			pending[i]++
		}
	}
	for i := n - 1; i >= 0; i-- {
		for _, w := range down[i] {
			height[i] = max(height[i], height[w]+1)
		}
	}
	var ready []int
	for i := range n {
		if pending[i] == 0 {
			ready = append(ready, i)
		}
	}
	ticks, done := 0, 0
	for done < n {
		slices.SortFunc(ready, func(a, b int) int {
			if height[a] != height[b] {
				return height[b] - height[a]
			}
			return a - b
		})
		batch := ready[:min(m, len(ready))]
		ready = slices.Clone(ready[len(batch):])
		for _, v := range batch {
			done++
			for _, w := range down[v] {
				if pending[w]--; pending[w] == 0 {
					ready = append(ready, w)
				}
			}
		}
		ticks++
	}
	return lower, time.Duration(ticks) * d
}

// BenchmarkRandomDAG500 runs 500 steps of `sleep 0.02` in a random DAG with
// max_concurrent 8. ratio is the wall time over the lower bound of any
// schedule of 20ms steps (1.0 is perfect); list_ratio is over a
// zero-overhead list schedule with the same priority. The baseline, run in
// the same iteration: 8 goroutines running the same 500 commands with raw
// os/exec and no dependencies at all; raw_ratio is its wall time over the
// same bound (what starting `sleep` costs on this machine), vs_raw the
// executor's wall time over it. pipes_cost is the executor's wall time
// over that of the same run with Pipes disabled, also in the same
// iteration: what a Pipes session per step costs.
func BenchmarkRandomDAG500(b *testing.B) {
	const (
		steps = 500
		slots = 8
		step  = 20 * time.Millisecond
	)
	specs := randomDAG(steps, 1, "sleep", "0.02")
	p, err := NewPlan(specs, []string{"group:dag"})
	if err != nil {
		b.Fatal(err)
	}
	if len(p.Steps) != steps {
		b.Fatalf("plan has %d steps", len(p.Steps))
	}
	lower, listSched := idealSchedule(p, step, slots)
	e := New(&LocalLauncher{Log: quietLog()}, Options{Limits: Limits{MaxConcurrent: slots}, Log: quietLog()})
	noPipes := New(&LocalLauncher{Log: quietLog()}, Options{Limits: Limits{MaxConcurrent: slots}, Log: quietLog(), Pipes: PipesOptions{Disabled: true}})
	run := func(e *Executor) time.Duration {
		t0 := time.Now()
		r, err := e.Start(b.Context(), p, RunRequest{})
		if err != nil {
			b.Fatal(err)
		}
		<-r.Done()
		d := time.Since(t0)
		if res := r.Result(); res.Status != RunSuccess {
			b.Fatalf("run %s: %s", res.Status, res.Reason)
		}
		return d
	}
	var wall, raw, off time.Duration
	for b.Loop() {
		raw += rawPool(b, steps, slots, "sleep", "0.02")
		wall += run(e)
		off += run(noPipes)
	}
	mean := wall / time.Duration(b.N)
	b.ReportMetric(mean.Seconds(), "wall_s")
	b.ReportMetric(lower.Seconds(), "ideal_s")
	b.ReportMetric(mean.Seconds()/lower.Seconds(), "ratio")
	b.ReportMetric(mean.Seconds()/listSched.Seconds(), "list_ratio")
	rawMean := raw / time.Duration(b.N)
	b.ReportMetric(rawMean.Seconds()/lower.Seconds(), "raw_ratio")
	b.ReportMetric(mean.Seconds()/rawMean.Seconds(), "vs_raw")
	b.ReportMetric(wall.Seconds()/off.Seconds(), "pipes_cost")
}

// rawPool runs argv n times on m goroutines with os/exec and returns the
// wall time.
func rawPool(b *testing.B, n, m int, argv ...string) time.Duration {
	jobs := make(chan struct{}, n)
	for range n {
		jobs <- struct{}{}
	}
	close(jobs)
	t0 := time.Now()
	var wg sync.WaitGroup
	for range m {
		wg.Go(func() {
			for range jobs {
				if err := exec.Command(argv[0], argv[1:]...).Run(); err != nil {
					b.Error(err)
				}
			}
		})
	}
	wg.Wait()
	return time.Since(t0)
}

// countLogs counts the lines a LogSink gets.
type countLogs struct{ n atomic.Int64 }

func (c *countLogs) StepLog(LogLine) { c.n.Add(1) }

// BenchmarkPipesLogs: a step whose child sends 1,000 Pipes log messages
// (one JSON line each, the messages file reopened for every line as the
// Python writer does), on the file channel and on stderr, against the same
// child writing 1,000 plain lines to stdout, in the same loop, each a
// one-step run through the executor. file_vs_stdout and stderr_vs_stdout
// are the ratios of the per-step times.
func BenchmarkPipesLogs(b *testing.B) {
	const lines = 1000
	child := buildPipesChild(b)
	run := func(e *Executor, logs *countLogs, arg string) time.Duration {
		p, err := NewPlan([]asset.Spec{{Key: "a", Materialize: &asset.MaterializeSpec{Argv: []string{child, arg, fmt.Sprint(lines)}}}}, []string{"a"})
		if err != nil {
			b.Fatal(err)
		}
		logs.n.Store(0)
		t0 := time.Now()
		r, err := e.Start(b.Context(), p, RunRequest{})
		if err != nil {
			b.Fatal(err)
		}
		<-r.Done()
		d := time.Since(t0)
		if res := r.Result(); res.Status != RunSuccess {
			b.Fatalf("run %s: %s", res.Status, res.Reason)
		}
		if n := logs.n.Load(); n != lines {
			b.Fatalf("%s: %d log lines, want %d", arg, n, lines)
		}
		return d
	}
	newE := func(po PipesOptions) (*Executor, *countLogs) {
		c := &countLogs{}
		po.Dir = b.TempDir()
		return New(&LocalLauncher{Log: quietLog()}, Options{Logs: c, Log: quietLog(), Pipes: po}), c
	}
	fileE, fileLogs := newE(PipesOptions{})
	errE, errLogs := newE(PipesOptions{Messages: pipes.ChannelStderr})
	var stdout, file, stderr time.Duration
	for b.Loop() {
		stdout += run(fileE, fileLogs, "stdout")
		file += run(fileE, fileLogs, "logs")
		stderr += run(errE, errLogs, "logs")
	}
	n := float64(b.N)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / n }
	b.ReportMetric(ms(stdout), "stdout_ms/op")
	b.ReportMetric(ms(file), "pipes_file_ms/op")
	b.ReportMetric(ms(stderr), "pipes_stderr_ms/op")
	b.ReportMetric(file.Seconds()/stdout.Seconds(), "file_vs_stdout")
	b.ReportMetric(stderr.Seconds()/stdout.Seconds(), "stderr_vs_stdout")
}
