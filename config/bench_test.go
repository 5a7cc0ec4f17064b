package config

import "testing"

func BenchmarkLoadExample(b *testing.B) {
	for b.Loop() {
		_, _ = load(Example, false, nil)
	}
}
