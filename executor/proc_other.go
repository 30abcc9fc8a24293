//go:build unix && !linux

package executor

import "os/exec"

// watchExit reports when cmd's process exits. Without waitid(WNOWAIT) the
// process is reaped at once, so the group's stragglers are signalled by a
// group id that, in a very short window, could have been reused.
func watchExit(cmd *exec.Cmd) (exited <-chan struct{}, reap func() error) {
	ch := make(chan struct{})
	var err error
	go func() { err = cmd.Wait(); close(ch) }()
	return ch, func() error { <-ch; return err }
}

// procStartTime is not known here: a Process's Start stays 0.
func procStartTime(int) (uint64, error) { return 0, nil }
