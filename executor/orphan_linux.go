package executor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"syscall"
	"time"
)

// orphanPoll is how often StopOrphan looks whether the group is gone.
const orphanPoll = 20 * time.Millisecond

// orphanKillWait bounds the wait for the group to go after SIGKILL (a
// process in uninterruptible sleep takes the signal late).
const orphanKillWait = 5 * time.Second

// StopOrphan stops the process group of a step's child left running by a
// server that crashed: pid and pidStart are a STARTED update's PID and
// PIDStart. If /proc/PID/stat exists and its start time is pidStart, the
// process is the one the step started (a reused pid has another start
// time): its group gets SIGTERM, up to grace to exit, then SIGKILL. found
// reports whether the process was found; a pid that is gone or reused is
// left alone and is not an error. When the process is not a group leader
// (it made a group of its own), only it is signalled.
//
// It refuses pid 0 or 1, a pidStart of 0 (unknown, so the pid cannot be
// told from a reused one), and this process's own group. On systems other
// than Linux it returns an error wrapping errors.ErrUnsupported.
func StopOrphan(pid int, pidStart uint64, grace time.Duration) (found bool, err error) {
	if pid <= 1 {
		return false, fmt.Errorf("stop orphan: invalid pid %d", pid)
	}
	if pidStart == 0 {
		return false, fmt.Errorf("stop orphan %d: no start time to tell it from a reused pid", pid)
	}
	st, err := readProcStat(pid)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("stop orphan %d: %w", pid, err)
	}
	if st.start != pidStart {
		return false, nil
	}
	if pid == os.Getpid() || st.pgrp == syscall.Getpgrp() {
		return true, fmt.Errorf("stop orphan %d: it is in this process's own group", pid)
	}
	target, gone := -pid, func() bool { return groupGone(pid) }
	if st.pgrp != pid {
		target, gone = pid, func() bool { return processEnded(pid, pidStart) }
	}
	if err := syscall.Kill(target, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return true, fmt.Errorf("stop orphan %d: SIGTERM: %w", pid, err)
	}
	if waitGone(gone, grace) {
		return true, nil
	}
	if err := syscall.Kill(target, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return true, fmt.Errorf("stop orphan %d: SIGKILL: %w", pid, err)
	}
	if !waitGone(gone, orphanKillWait) {
		return true, fmt.Errorf("stop orphan %d: its group still runs %s after SIGKILL", pid, orphanKillWait)
	}
	return true, nil
}

// waitGone polls gone until it holds or d has passed.
func waitGone(gone func() bool, d time.Duration) bool {
	end := time.Now().Add(d)
	for {
		if gone() {
			return true
		}
		if time.Now().After(end) {
			return false
		}
		time.Sleep(min(orphanPoll, time.Until(end)+time.Millisecond))
	}
}

// groupGone reports whether no live process (zombies do not count) is in
// process group pgid.
func groupGone(pgid int) bool {
	return len(groupMembers(pgid)) == 0
}

// groupMembers lists the live processes of group pgid, from /proc.
func groupMembers(pgid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readProcStat(pid)
		if err != nil || st.pgrp != pgid || st.state == 'Z' || st.state == 'X' {
			continue
		}
		out = append(out, pid)
	}
	return out
}

// processEnded reports whether the process pid that started at start no
// longer runs.
func processEnded(pid int, start uint64) bool {
	st, err := readProcStat(pid)
	return err != nil || st.start != start || st.state == 'Z' || st.state == 'X'
}
