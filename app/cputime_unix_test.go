//go:build unix

package app

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user and system) the whole process has used:
// unlike wall time it does not count the time other processes on a shared
// host hold the cores.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
