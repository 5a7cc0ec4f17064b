//go:build !race

package browsertest

// raceScale is 1 without -race (see race_on.go).
const raceScale = 1
