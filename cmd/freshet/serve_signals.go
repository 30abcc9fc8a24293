package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/freshet-dev/freshet/app"
	"github.com/freshet-dev/freshet/ingest"
)

// signalFlags tune how the server behaves when the store or the disk
// falls behind or fails (docs/operations.md, "Failure signals").
type signalFlags struct {
	storeReadTimeout  time.Duration
	walUnhealthyAfter time.Duration
	maxUnstoredAge    time.Duration
	maxUnstoredBytes  int64
	ackWait           time.Duration
}

func (f *signalFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.DurationVar(&f.storeReadTimeout, "store-read-timeout", app.DefaultStoreReadTimeout,
		"longest wait for the event store to answer an API read; beyond it the API answers 503 with Retry-After")
	fl.DurationVar(&f.walUnhealthyAfter, "wal-unhealthy-after", app.DefaultWALUnhealthyAfter,
		"how long the write-ahead log may fail without one successful write before /healthz fails (so an orchestrator restarts freshet)")
	fl.DurationVar(&f.maxUnstoredAge, "max-unstored-age", ingest.DefaultMaxUnstoredAge,
		"backpressure: acknowledgements wait while the oldest acknowledged event the store has not confirmed is older than this (negative: off)")
	fl.Int64Var(&f.maxUnstoredBytes, "max-unstored-bytes", ingest.DefaultMaxUnstoredBytes,
		"backpressure: acknowledgements wait while more write-ahead log bytes than this await the store")
	fl.DurationVar(&f.ackWait, "ack-wait", ingest.DefaultAckWait,
		"backpressure: the longest an acknowledgement waits for the store to catch up before answering 503 with Retry-After")
}

func (f *signalFlags) apply(cfg *app.Config) {
	cfg.StoreReadTimeout = f.storeReadTimeout
	cfg.WALUnhealthyAfter = f.walUnhealthyAfter
	cfg.MaxUnstoredAge, cfg.MaxUnstoredBytes, cfg.AckWait = f.maxUnstoredAge, f.maxUnstoredBytes, f.ackWait
}
