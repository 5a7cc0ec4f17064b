//go:build !unix

package app

import "time"

// processCPU is only implemented on Unix; elsewhere BenchmarkFloor reports
// the wall-time ratios alone.
func processCPU() (time.Duration, bool) { return 0, false }
