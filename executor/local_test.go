package executor_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/executor"
	"github.com/freshet-dev/freshet/executor/launchertest"
)

func TestLocalLauncherConformance(t *testing.T) {
	t.Parallel()
	launchertest.Run(t, func(t *testing.T) executor.Launcher {
		return &executor.LocalLauncher{Grace: 300 * time.Millisecond, Log: slog.New(slog.DiscardHandler)}
	})
}
