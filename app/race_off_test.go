//go:build !race

package app

// raceDetector is true when the tests run under -race (see race_on_test.go).
const raceDetector = false
