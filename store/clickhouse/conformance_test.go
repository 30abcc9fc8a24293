package clickhouse

import (
	"context"
	"testing"

	"github.com/freshet-dev/freshet/internal/chtest"
	"github.com/freshet-dev/freshet/store"
	"github.com/freshet-dev/freshet/store/storetest"
)

// TestConformance runs the shared store suite, each subtest on a fresh
// database of the test server.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		st, err := Open(context.Background(), chtest.Server(t), WithLogger(quiet))
		if err != nil {
			t.Fatal(err)
		}
		return st // the suite closes it
	})
}

// TestRunsConformance runs the shared runs suite (store.RunStore), each
// subtest on a fresh database of the test server.
func TestRunsConformance(t *testing.T) {
	storetest.RunRuns(t, func(t *testing.T) store.RunStore {
		st, err := Open(context.Background(), chtest.Server(t), WithLogger(quiet))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := st.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
		return st
	})
}

// TestAlertsConformance runs the shared alerts suite (store.AlertStore),
// each subtest on a fresh database of the test server.
func TestAlertsConformance(t *testing.T) {
	storetest.RunAlerts(t, func(t *testing.T) store.AlertStore {
		st, err := Open(context.Background(), chtest.Server(t), WithLogger(quiet))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := st.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
		return st
	})
}

// TestRetentionConformance runs the shared retention suite
// (store.Trimmer), each subtest on a fresh database of the test server.
func TestRetentionConformance(t *testing.T) {
	storetest.RunRetention(t, func(t *testing.T) storetest.RetentionStore {
		st, err := Open(context.Background(), chtest.Server(t), WithLogger(quiet))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := st.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
		return st
	})
}
