package executor

import (
	"errors"
	"os/exec"
	"syscall"
	"unsafe"
)

// watchExit reports when cmd's process exits without reaping it: until reap
// is called the process stays a zombie, so its pid (the group id) cannot be
// reused and signals to the group cannot reach a stranger.
func watchExit(cmd *exec.Cmd) (exited <-chan struct{}, reap func() error) {
	ch := make(chan struct{})
	pid := cmd.Process.Pid
	go func() {
		defer close(ch)
		for {
			if err := waitExitedNoReap(pid); !errors.Is(err, syscall.EINTR) {
				return // on any other error Wait (reap) will tell
			}
		}
	}()
	return ch, func() error { <-ch; return cmd.Wait() }
}

// waitExitedNoReap blocks until pid exits: waitid(P_PID, pid, WEXITED|WNOWAIT).
func waitExitedNoReap(pid int) error {
	const pPID = 1
	var info [128]byte // siginfo_t
	_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid), uintptr(unsafe.Pointer(&info[0])), syscall.WEXITED|syscall.WNOWAIT, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}
