package receiver

import (
	"context"
	"log/slog"
	"strings"

	"github.com/freshet-dev/freshet/alerts"
)

// Log is a receiver that writes each notification to the server's log:
// a way to try rules out before wiring a pager (the demo uses it). It
// always delivers.
type Log struct {
	name string
	log  *slog.Logger
}

// NewLog returns a Log receiver; a nil logger means slog.Default().
func NewLog(name string, log *slog.Logger) *Log {
	if log == nil {
		log = slog.Default()
	}
	return &Log{name: name, log: log}
}

// Name implements alerts.Receiver.
func (l *Log) Name() string { return l.name }

// Send implements alerts.Receiver.
func (l *Log) Send(ctx context.Context, n alerts.Notification) error {
	if err := n.Validate(); err != nil {
		return alerts.Reject(l.name, &n, err)
	}
	impacted := make([]string, len(n.Impacted))
	for i, k := range n.Impacted {
		impacted[i] = string(k)
	}
	l.log.LogAttrs(ctx, slog.LevelWarn, "alert "+string(n.Status), slog.String("receiver", l.name), slog.String("key", n.Key),
		slog.String("severity", string(n.Severity)), slog.String("summary", n.Summary),
		slog.String("impacted", strings.Join(impacted, ",")))
	return nil
}
