package executor

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/config"
	"github.com/freshet-dev/freshet/executor/pipes"
)

// Variables the executor sets for every step (they win over the
// materialize env). With Pipes (the default) it also sets
// pipes.EnvContext and pipes.EnvMessages (DAGSTER_PIPES_CONTEXT and
// DAGSTER_PIPES_MESSAGES).
const (
	EnvRunID       = "FRESHET_RUN_ID"
	EnvAsset       = "FRESHET_ASSET"
	EnvPartition   = "FRESHET_PARTITION"
	EnvTraceParent = "TRACEPARENT"
)

// stepEnv builds the part of a step's environment that is the same for
// all its attempts: the materialize env with ${NAME} expanded through
// lookup, then FRESHET_RUN_ID, FRESHET_ASSET and FRESHET_PARTITION. Each
// attempt adds TRACEPARENT and, with Pipes, the DAGSTER_PIPES_* variables;
// all of these win over the materialize env. Names are sorted so the
// result is deterministic. An unset variable names the env entry and the
// variable, never a value.
func stepEnv(m *asset.MaterializeSpec, lookup func(string) (string, bool), runID string, key asset.Key, partition string, withPipes bool) ([]string, error) {
	env := make([]string, 0, len(m.Env)+6)
	for _, name := range slices.Sorted(maps.Keys(m.Env)) {
		switch name {
		case EnvRunID, EnvAsset, EnvPartition, EnvTraceParent:
			continue // set by the executor
		case pipes.EnvContext, pipes.EnvMessages:
			if withPipes {
				continue
			}
		}
		v, err := config.ExpandEnv(m.Env[name], lookup)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", name, err)
		}
		env = append(env, name+"="+v)
	}
	return append(env,
		EnvRunID+"="+runID,
		EnvAsset+"="+string(key),
		EnvPartition+"="+partition,
	), nil
}

// envNames returns the names of NAME=value entries: what logs may show.
func envNames(env []string) []string {
	names := make([]string, len(env))
	for i, kv := range env {
		names[i], _, _ = strings.Cut(kv, "=")
	}
	return names
}
