//go:build !linux

package response_test

import "time"

// threadCPU is only implemented on Linux; elsewhere BenchmarkSpeedup reports
// the wall-time ratio alone.
func threadCPU() (time.Duration, bool) { return 0, false }
