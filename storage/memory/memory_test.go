package memory_test

import (
	"testing"

	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/storage/conformance"
	"github.com/spid-idp/spid-idp/storage/memory"
)

func TestConformance(t *testing.T) {
	conformance.RunEphemeral(t, func(t *testing.T) storage.Ephemeral {
		s := memory.New()
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	})
	t.Run("Session/Protocols", func(t *testing.T) {
		s := memory.New()
		defer s.Close()
		conformance.EphemeralSessionProtocols(t, s)
	})
}

func BenchmarkInsertRequestID(b *testing.B) {
	s := memory.New()
	b.Cleanup(func() { _ = s.Close() })
	conformance.BenchInsertRequestID(b, s)
}

func BenchmarkGetSession(b *testing.B) {
	s := memory.New()
	b.Cleanup(func() { _ = s.Close() })
	conformance.BenchGetSession(b, s)
}

func BenchmarkCreateValue(b *testing.B) {
	s := memory.New()
	b.Cleanup(func() { _ = s.Close() })
	conformance.BenchCreateValue(b, s)
}

func BenchmarkGetValue(b *testing.B) {
	s := memory.New()
	b.Cleanup(func() { _ = s.Close() })
	conformance.BenchGetValue(b, s)
}
