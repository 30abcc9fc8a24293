package outbox

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/freshet-dev/freshet/alerts"
	"github.com/freshet-dev/freshet/store"
)

// startDelivery begins the alert.deliver span of one attempt: a root span
// (deliveries are scheduled by the outbox, not by a request), whose
// context the receiver's Send gets.
func (o *Outbox) startDelivery(ctx context.Context, l *lane, d store.Delivery) (context.Context, trace.Span) {
	ctx, span := o.opts.Tracer.Start(ctx, "alert.deliver", trace.WithSpanKind(trace.SpanKindClient))
	if span.IsRecording() {
		span.SetAttributes(attribute.String("freshet.alert.receiver", l.name), attribute.String("freshet.alert.key", d.Key),
			attribute.String("freshet.alert.status", d.Status), attribute.Int("freshet.alert.attempt", d.Attempts+1),
			attribute.String("freshet.alert.delivery", d.ID))
	}
	return ctx, span
}

// endDelivery ends the span with how the attempt went: delivered,
// rejected or retryable (alerts.Classify), and the receiver's status code.
func endDelivery(span trace.Span, err error) {
	if span.IsRecording() {
		span.SetAttributes(attribute.String("freshet.alert.outcome", alerts.Classify(err).String()))
		if code := statusCode(err); code != 0 {
			span.SetAttributes(attribute.Int("http.response.status_code", code))
		}
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
	}
	span.End()
}
