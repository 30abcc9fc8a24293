//go:build !linux

package executor

import (
	"errors"
	"fmt"
	"time"
)

// StopOrphan stops the process group of a step's child left running by a
// server that crashed. It needs /proc (Linux) to tell the process from one
// that reused its pid: here it always returns an error wrapping
// errors.ErrUnsupported.
func StopOrphan(pid int, pidStart uint64, grace time.Duration) (found bool, err error) {
	return false, fmt.Errorf("stop orphan %d: %w: needs Linux's /proc to tell the process from a reused pid", pid, errors.ErrUnsupported)
}
