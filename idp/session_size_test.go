package idp

import (
	"encoding/json"
	"testing"

	"github.com/spid-idp/spid-idp/storage"
)

// sessionOf returns the SSO session an assertion's SessionIndex names.
func sessionOf(tb testing.TB, h *harness, a assertion) storage.Session {
	tb.Helper()
	sid, err := h.Flow.SessionOfIndex(a.SessionIndex)
	if err != nil {
		tb.Fatalf("SessionIndex: %v", err)
	}
	s, err := h.Eph.GetSession(tb.Context(), sid)
	if err != nil {
		tb.Fatalf("session: %v", err)
	}
	return s
}

// sessionBytes is the session's size as a cache would encode it whole.
func sessionBytes(tb testing.TB, s storage.Session) int {
	tb.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		tb.Fatal(err)
	}
	return len(b)
}

// TestSSOSessionOneEntryPerSP (issue 14 item 5): SSO again and again at
// the same SP keeps one entry for it, the latest assertion, and the session
// stays the same size; a second SP adds one entry. (The old code appended
// an entry per Response: ~1,630 after a minute of load.)
func TestSSOSessionOneEntryPerSP(t *testing.T) {
	h := newHarness(t)
	br := h.browser()
	first := br.login(h.A, 1)
	size := sessionBytes(t, sessionOf(t, h, first))
	var last assertion
	for range 40 {
		last = br.login(h.A, 1)
	}
	s := sessionOf(t, h, last)
	if s.ID != sessionOf(t, h, first).ID {
		t.Fatal("SSO opened a new session instead of reusing it")
	}
	if len(s.Participants) != 1 {
		t.Fatalf("after 41 Responses to one SP the session holds %d entries, want 1", len(s.Participants))
	}
	if p := s.Participants[0]; p.NameID != last.NameID || p.SessionIndex != last.SessionIndex {
		t.Errorf("the entry is not the latest assertion: %+v, want NameID %s", p, last.NameID)
	}
	// Equal up to the entry's own variable-length fields (an instant whose
	// fraction ends in zeros encodes a byte shorter); 40 appended entries
	// would add kilobytes.
	if got := sessionBytes(t, s); got > size+16 {
		t.Errorf("session grew from %d to %d bytes", size, got)
	}
	b := br.login(h.B, 1)
	if n := len(sessionOf(t, h, b).Participants); n != 2 {
		t.Errorf("with a second SP the session holds %d entries, want 2", n)
	}
}

// BenchmarkSSOSameSession runs SSO on one session at one SP b.N times
// (e.g. -benchtime=2000x) and reports the session's entries and size at the
// end, which stay 1 and constant whatever b.N is.
func BenchmarkSSOSameSession(b *testing.B) {
	h := newHarness(b)
	br := h.browser()
	a := br.login(h.A, 1)
	for b.Loop() {
		a = br.login(h.A, 1)
	}
	s := sessionOf(b, h, a)
	b.ReportMetric(float64(len(s.Participants)), "entries")
	b.ReportMetric(float64(sessionBytes(b, s)), "session-bytes")
}
