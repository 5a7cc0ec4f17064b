//go:build unix

package password

import (
	"syscall"
	"time"
)

// processCPU is the user+system CPU time of this process, so the benchmark
// can report the work per hash independently of how busy the machine is.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
