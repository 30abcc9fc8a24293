package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/freshet-dev/freshet/api"
	"github.com/freshet-dev/freshet/app"
)

// limitFlags are the serve and dev flags that bound what clients can make
// the server hold (docs/security.md). 0 turns a count limit off.
type limitFlags struct {
	concurrentIngest int
	ingestBytes      int64
	maxAssets        int
	newAssetsPerMin  int
	readTimeout      time.Duration
}

func (l *limitFlags) register(cmd *cobra.Command) {
	cmd.Flags().IntVar(&l.concurrentIngest, "max-concurrent-ingest", api.DefaultMaxConcurrentIngest,
		"ingest requests (POST /api/v1/events, /api/v1/lineage, /api/v1/lineage/batch) read and acknowledged at once; more wait up to a second, then get 429 with Retry-After (0: no limit)")
	cmd.Flags().Int64Var(&l.ingestBytes, "max-ingest-bytes", api.DefaultMaxIngestBytes,
		"request bodies ingest reads and decodes at once, together (a chunked or compressed body counts as --max-body-bytes); decoding takes about 6x a body's size, so this bounds ingest's memory; more wait up to a second, then get 429 (0: no limit)")
	cmd.Flags().IntVar(&l.maxAssets, "max-assets", api.DefaultMaxAssets,
		"most assets in the catalog; an event that would create one more gets 403 asset_limit, events for existing assets are still accepted (0: no limit)")
	cmd.Flags().IntVar(&l.newAssetsPerMin, "max-new-assets-per-minute", api.DefaultNewAssetsPerMinute,
		"most assets that events (and SLAs on new keys) may create a minute, in bursts of up to as many; beyond, 429 asset_rate_limit with Retry-After (0: no limit)")
	cmd.Flags().DurationVar(&l.readTimeout, "read-timeout", time.Minute,
		"longest time to read a request, body included; a slower body is cut off with 400 body_incomplete")
}

func (l *limitFlags) apply(cfg *app.Config) {
	off := func(n int) int { // app.Config reads 0 as the default, negative as none
		if n <= 0 {
			return -1
		}
		return n
	}
	cfg.MaxConcurrentIngest = off(l.concurrentIngest)
	cfg.MaxIngestBytes = l.ingestBytes
	if l.ingestBytes <= 0 {
		cfg.MaxIngestBytes = -1
	}
	cfg.MaxAssets = off(l.maxAssets)
	cfg.NewAssetsPerMinute = off(l.newAssetsPerMin)
	cfg.ReadTimeout = l.readTimeout
}
