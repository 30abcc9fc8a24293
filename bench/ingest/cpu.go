package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// procCPU is the user+system CPU time a process has used so far (0 when
// pid is 0 or /proc cannot tell: an external server).
func procCPU(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: state is field 3, utime 14, stime 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 13 {
		return 0
	}
	ut, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	st, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(ut+st) * time.Second / clockTicks
}

// selfCPU is the user+system CPU time of this process so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuMeter reads the CPU used by this process and by the ClickHouse
// server between two points.
type cpuMeter struct {
	serverPid    int
	self, server time.Duration
}

func startCPU(serverPid int) cpuMeter {
	return cpuMeter{serverPid: serverPid, self: selfCPU(), server: procCPU(serverPid)}
}

// perEvent formats the CPU used since start per event, as microseconds,
// for this process and the server.
func (m cpuMeter) perEvent(n int) (self, server string) {
	us := func(d time.Duration) string { return fmt.Sprintf("%.1f µs", float64(d.Microseconds())/float64(n)) }
	self = us(selfCPU() - m.self)
	if m.serverPid == 0 {
		return self, "n/a (external server)"
	}
	return self, us(procCPU(m.serverPid) - m.server)
}
