package signature

import (
	"bytes"
	"testing"
)

// FuzzScreenBER drives the iterative BER screen and the eContent walk that
// run on every uploaded .p7m before github.com/digitorus/pkcs7 sees it
// (S102): any input is refused or accepted without a panic, and what the
// screen accepts stays within the nesting bound it promises.
func FuzzScreenBER(f *testing.F) {
	f.Add([]byte{0x30, 0x80, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02, 0xa0, 0x80, 0x00, 0x00, 0x00, 0x00})
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x01})
	f.Add(bytes.Repeat([]byte{0x30, 0x80}, 100))
	f.Add([]byte{0x30, 0x84, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0x24, 0x80, 0x04, 0x01, 'a', 0x04, 0x01, 'b', 0x00, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := screenBER(b); err != nil {
			return
		}
		depth := 0
		for i := 0; i+1 < len(b) && depth <= maxBERDepth+1; i += 2 {
			if b[i]&0x20 == 0 || b[i+1] != 0x80 {
				break
			}
			depth++
		}
		if depth > maxBERDepth+1 {
			t.Fatalf("screen accepted %d nested indefinite headers", depth)
		}
		_, _ = encapsulatedContent(b)
	})
}

// FuzzScreenUpdate drives the screen of the incremental update a PAdES
// signing tool appends to the issued form (S102): any bytes are refused or
// accepted without a panic, and every long-string span it reports lies
// inside the update.
func FuzzScreenUpdate(f *testing.F) {
	f.Add([]byte("\n1 0 obj\n<< /Type /Sig /Contents <00ff> >>\nendobj\nxref\n0 1\n0000000000 65535 f \ntrailer\n<< /Size 2 >>\nstartxref\n10\n%%EOF\n"))
	f.Add([]byte("<< /W [1 2 1] /Index [0 999999999] >>\n%%EOF"))
	f.Add([]byte("((((((((((((((((((((((((((((((((((((((((\n%%EOF"))
	f.Add([]byte("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n%%EOF"))
	f.Add([]byte("/ObjStm\n%%EOF"))
	f.Fuzz(func(t *testing.T, u []byte) {
		spans, err := screenUpdate(u)
		if err != nil {
			return
		}
		for _, s := range spans {
			if s.start < 0 || s.end > len(u) || s.start > s.end {
				t.Fatalf("span %+v outside the %d-byte update", s, len(u))
			}
		}
	})
}
