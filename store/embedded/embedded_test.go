package embedded_test

import (
	"context"
	"strings"
	"testing"

	"github.com/freshet-dev/freshet/store"
	"github.com/freshet-dev/freshet/store/embedded"
	"github.com/freshet-dev/freshet/store/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := embedded.Open(context.Background(), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestReopen: what was stored survives closing and reopening the file.
func TestReopen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s, err := embedded.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := embedded.Open(ctx, dir); err == nil || !strings.Contains(err.Error(), "another freshet") {
		t.Errorf("second open of a locked dir: err = %v", err)
	}
	s.Close()
	s, err = embedded.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Events(ctx, store.EventQuery{}); err != nil {
		t.Fatal(err)
	}
}
