package executor

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
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

// procStat is what Freshet reads of /proc/PID/stat.
type procStat struct {
	state byte   // R, S, D, Z, ...
	pgrp  int    // field 5
	start uint64 // field 22: start time in clock ticks since boot
}

// readProcStat reads /proc/PID/stat. A missing process is an error that
// wraps fs.ErrNotExist.
func readProcStat(pid int) (procStat, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	defer f.Close()
	// One read: the kernel writes the whole line at once, well under 1 KiB
	// but for a command name of 64 KiB of parentheses, which it cuts to 15
	// bytes anyway.
	var buf [1024]byte
	n, err := f.Read(buf[:])
	if err != nil {
		return procStat{}, err
	}
	return parseProcStat(buf[:n])
}

// parseProcStat reads "PID (COMM) STATE PPID PGRP ... STARTTIME ...". COMM
// may hold spaces and parentheses: the fields start after the last ')'.
func parseProcStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("proc stat: no ')' in %q", b)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state), so field n is f[n-3].
	if len(f) < 20 || len(f[0]) != 1 {
		return procStat{}, fmt.Errorf("proc stat: %d fields after the command", len(f))
	}
	pgrp, err := strconv.Atoi(f[5-3])
	if err != nil {
		return procStat{}, fmt.Errorf("proc stat: pgrp: %w", err)
	}
	start, err := strconv.ParseUint(f[22-3], 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("proc stat: starttime: %w", err)
	}
	return procStat{state: f[0][0], pgrp: pgrp, start: start}, nil
}

// procStartTime is pid's start time in clock ticks since boot.
func procStartTime(pid int) (uint64, error) {
	st, err := readProcStat(pid)
	return st.start, err
}
