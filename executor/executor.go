package executor

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/config"
	"github.com/freshet-dev/freshet/executor/pipes"
)

// Limits bound how many steps run at once, across every run of an Executor.
type Limits struct {
	MaxConcurrent int            // 0: runtime.NumCPU()
	Pools         map[string]int // pool -> limit; a pool not here has no limit of its own
}

// LimitsFromConfig reads max_concurrent and pools from a definitions file.
func LimitsFromConfig(f *config.File) Limits {
	l := Limits{MaxConcurrent: f.MaxConcurrent}
	if len(f.Pools) > 0 {
		l.Pools = make(map[string]int, len(f.Pools))
		for name, p := range f.Pools {
			l.Pools[name] = p.Limit
		}
	}
	return l
}

// Options configure an Executor. Every field is optional.
type Options struct {
	Limits  Limits
	Backoff Backoff
	// MaxLogBytes caps what each step's output may put in the logs, across
	// its attempts; 0 means DefaultMaxLogBytes.
	MaxLogBytes int64
	// LookupEnv resolves ${NAME} in materialize env values; nil means
	// os.LookupEnv (the server's environment).
	LookupEnv func(string) (string, bool)

	// Pipes configures each attempt's Dagster Pipes session.
	Pipes PipesOptions

	Recorder Recorder
	Observer Observer
	Logs     LogSink
	Log      *slog.Logger
	// Rand returns uniform numbers in [0, 1) for backoff jitter; nil means
	// math/rand/v2.
	Rand func() float64
}

// DefaultMaxLogBytes is the per-step output cap when Options.MaxLogBytes is 0.
const DefaultMaxLogBytes = 10 << 20

// PipesOptions configure the Dagster Pipes session the executor opens for
// every attempt (docs/executor.md, "Reporting back"). The zero value puts
// the context inline in DAGSTER_PIPES_CONTEXT and has the child append its
// messages to a private file under os.TempDir().
type PipesOptions struct {
	// Disabled sets no DAGSTER_PIPES_* variables and reads no messages.
	Disabled bool
	// Context is pipes.ContextAuto (the default: inline, {"data": ...},
	// unless its encoding is over 32 KiB), pipes.ContextEnv (always
	// inline) or pipes.ContextFile ({"path": ...}, a file, as Dagster's
	// subprocess client does).
	Context pipes.ContextMode
	// Messages is pipes.ChannelFile (the default; the child must share
	// this machine's filesystem, as the local launcher's children do),
	// pipes.ChannelStderr or pipes.ChannelStdout (messages among the
	// child's output lines, for launchers that run it elsewhere).
	Messages pipes.Channel
	// Dir is where each attempt's session files are made; "" means
	// os.TempDir().
	Dir string
	// Extras is the context's extras ({} when nil): anything the
	// children should know that is not in the context.
	Extras map[string]any
}

// remotePipes is a Launcher that runs children elsewhere (the Kubernetes
// launcher): the Pipes context mode and message channel they can use,
// taken when Options.Pipes.Messages is not set.
type remotePipes interface {
	PipesChannels() (pipes.ContextMode, pipes.Channel)
}

// PipesStats count the Dagster Pipes messages an Executor has read, across
// all its runs.
type PipesStats struct {
	Messages  uint64 // handled
	Malformed uint64 // ignored: not JSON, unknown method, bad params or metadata, wrong asset
}

// Executor runs plans. Its limits are shared by all the runs it starts.
type Executor struct {
	launcher Launcher
	limits   *limiter
	opts     Options
	log      *slog.Logger
	pipes    pipesCounters
}

// PipesStats returns the Pipes message counts so far.
func (e *Executor) PipesStats() PipesStats {
	return PipesStats{Messages: e.pipes.messages.Load(), Malformed: e.pipes.malformed.Load()}
}

// New returns an Executor that runs steps with l.
func New(l Launcher, opts Options) *Executor {
	if opts.Limits.MaxConcurrent <= 0 {
		opts.Limits.MaxConcurrent = runtime.NumCPU()
	}
	if opts.MaxLogBytes <= 0 {
		opts.MaxLogBytes = DefaultMaxLogBytes
	}
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	if opts.Recorder == nil {
		opts.Recorder = nopRecorder{}
	}
	if opts.Observer == nil {
		opts.Observer = nopObserver{}
	}
	if opts.Logs == nil {
		opts.Logs = nopLogs{}
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Rand == nil {
		opts.Rand = rand.Float64
	}
	// A launcher whose children run on other machines cannot give them
	// this machine's files: it says which Pipes channels they can use.
	if r, ok := l.(remotePipes); ok && !opts.Pipes.Disabled && opts.Pipes.Messages == "" {
		opts.Pipes.Context, opts.Pipes.Messages = r.PipesChannels()
	}
	return &Executor{
		launcher: l,
		limits:   newLimiter(opts.Limits.MaxConcurrent, opts.Limits.Pools),
		opts:     opts,
		log:      opts.Log,
	}
}

// RunRequest says how to run a plan.
type RunRequest struct {
	// ID names the run; empty means a new UUIDv7.
	ID string
	// Partition is passed to every step (FRESHET_PARTITION) and put on its
	// events; empty for unpartitioned assets.
	Partition string
	// TraceParent joins the run to an existing trace (W3C traceparent);
	// empty starts a new trace.
	TraceParent string
}

// Start begins running p and returns at once. The run stops when it is
// done, when Cancel is called, or when ctx is canceled (which cancels it).
func (e *Executor) Start(ctx context.Context, p *Plan, req RunRequest) (*Run, error) {
	if p == nil || len(p.Steps) == 0 {
		return nil, fmt.Errorf("start run: the plan has no steps")
	}
	trace := newTrace()
	if req.TraceParent != "" {
		parent, err := ParseTraceParent(req.TraceParent)
		if err != nil {
			return nil, fmt.Errorf("start run: %w", err)
		}
		trace = parent
	}
	if req.ID == "" {
		req.ID = asset.NewEventID()
	}
	r := newRun(e, p, req, trace)
	runCtx, cancel := context.WithCancelCause(ctx)
	r.cancel = cancel
	r.setStatus(RunQueued, "")
	go r.loop(runCtx)
	return r, nil
}
