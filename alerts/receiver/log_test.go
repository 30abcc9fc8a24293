package receiver

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/freshet-dev/freshet/alerts"
	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/config"
)

func TestLogReceiver(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	r, err := FromConfig(config.Receiver{Name: "console", Type: config.ReceiverLog}, Options{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	n := alerts.Notification{Key: "freshet/sla/raw/crm", Status: alerts.Firing, Severity: alerts.Error, Summary: "raw/crm is FAIL", Impacted: []asset.Key{"a", "b"}}
	if err := r.Send(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`msg="alert firing"`, "receiver=console", "key=freshet/sla/raw/crm", "impacted=a,b"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log %q lacks %s", buf.String(), want)
		}
	}
	if err := r.Send(context.Background(), alerts.Notification{}); alerts.Classify(err) != alerts.Rejected {
		t.Errorf("invalid notification: %v", err)
	}
}
