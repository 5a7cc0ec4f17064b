//go:build race

package app

// raceDetector is true when the tests run under -race, whose shadow memory
// and per-goroutine state inflate resident memory (see hashgate_test.go).
const raceDetector = true
