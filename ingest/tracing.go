package ingest

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/freshet-dev/freshet/ingest/wal"
)

// noSpan is what start returns without a tracer: a span that records
// nothing, so callers need not check (their attributes go behind
// IsRecording, which keeps tracing off free of allocations).
var noSpan = trace.SpanFromContext(context.Background())

// start begins a span as a child of ctx's, or nothing without a tracer.
func (p *Pipeline) start(ctx context.Context, name string) (context.Context, trace.Span) {
	if p.opts.Tracer == nil {
		return ctx, noSpan
	}
	return p.opts.Tracer.Start(ctx, name)
}

// appendWAL appends one batch to the write-ahead log and waits for the
// fsync that covers it (group commit): the wal.append span.
func (p *Pipeline) appendWAL(ctx context.Context, frame []byte) (uint64, error) {
	_, span := p.start(ctx, "wal.append")
	seq, err := p.log.AppendFramed(frame)
	if span.IsRecording() {
		span.SetAttributes(attribute.Int("freshet.wal.bytes", len(frame)-wal.HeaderSize), attribute.Int64("freshet.wal.seq", int64(seq)))
	}
	endSpan(span, err)
	return seq, err
}

// endSpan ends span, marked failed when err is not nil.
func endSpan(span trace.Span, err error) {
	if err != nil && span.IsRecording() {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
