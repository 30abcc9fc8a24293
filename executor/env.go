package executor

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/config"
)

// Variables the executor sets for every step (they win over the
// materialize env).
const (
	EnvRunID       = "FRESHET_RUN_ID"
	EnvAsset       = "FRESHET_ASSET"
	EnvPartition   = "FRESHET_PARTITION"
	EnvTraceParent = "TRACEPARENT"
)

// stepEnv builds a step attempt's environment: the materialize env with
// ${NAME} expanded through lookup, then the FRESHET_* variables and
// TRACEPARENT. Names are sorted so the result is deterministic. An unset
// variable names the env entry and the variable, never a value.
func stepEnv(m *asset.MaterializeSpec, lookup func(string) (string, bool), runID string, key asset.Key, partition, traceparent string) ([]string, error) {
	env := make([]string, 0, len(m.Env)+4)
	for _, name := range slices.Sorted(maps.Keys(m.Env)) {
		switch name {
		case EnvRunID, EnvAsset, EnvPartition, EnvTraceParent:
			continue // set below
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
		EnvTraceParent+"="+traceparent,
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
