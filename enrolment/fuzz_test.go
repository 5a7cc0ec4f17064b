package enrolment

import (
	"bytes"
	"testing"
)

// A stored request body never panics the decoder, and what decodes
// re-encodes to a fixed point.
func FuzzDecode(f *testing.F) {
	a, d := mario()
	seed := &Request{OrderType: OrderNew, Applicant: &a, Document: &d, Reasons: []Reason{{Code: "data_mismatch", Field: "name"}},
		Recognition: &Recognition{By: "op", Checklist: map[string]bool{"x": true}}}
	f.Add(seed.encode())
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"paused_total": -1, "evidence": [{"Size": 1e30}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Decode(data)
		if err != nil {
			return
		}
		once := r.encode()
		r2, err := Decode(once)
		if err != nil {
			t.Fatalf("re-decoding %q: %v", once, err)
		}
		if twice := r2.encode(); !bytes.Equal(once, twice) {
			t.Fatalf("not a fixed point:\n%s\n%s", once, twice)
		}
	})
}

// Request codes as typed: normalising never panics and is idempotent.
func FuzzNormaliseCode(f *testing.F) {
	for _, s := range []string{"abcde-fghjk", " O1IL0-ZZZZZ ", "", "ü-ü"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := NormaliseCode(s)
		if NormaliseCode(n) != n {
			t.Fatalf("%q → %q → %q", s, n, NormaliseCode(n))
		}
		_ = FormatCode(n)
	})
}
