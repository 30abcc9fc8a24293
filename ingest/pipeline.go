package ingest

import (
	"context"
	"fmt"

	"github.com/freshet-dev/freshet/asset"
)

// Sink durably stores event batches (the event store).
type Sink interface {
	AppendEvents(ctx context.Context, events []asset.Event) error
}

// Observer is told about every batch once it is durable: the catalog and
// the lineage index keep their in-memory state current this way.
type Observer func(events []asset.Event)

// Pipeline takes validated events to the sink and then to the observers.
type Pipeline struct {
	sink      Sink
	observers []Observer
}

// NewPipeline returns a pipeline writing to sink.
func NewPipeline(sink Sink, observers ...Observer) *Pipeline {
	return &Pipeline{sink: sink, observers: observers}
}

// Submit returns once the batch is durable; only then do observers see it,
// so nothing is shown that could still be lost.
func (p *Pipeline) Submit(ctx context.Context, events []asset.Event) error {
	if len(events) == 0 {
		return nil
	}
	if err := p.sink.AppendEvents(ctx, events); err != nil {
		return fmt.Errorf("store %d events: %w", len(events), err)
	}
	for _, o := range p.observers {
		o(events)
	}
	return nil
}
