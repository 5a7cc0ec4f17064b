package signature

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
)

// Inputs that made the parsing libraries hang, allocate without bound or
// overflow the stack before the screens existed. Each must be refused fast.
func TestHostileInputs(t *testing.T) {
	e := newEnv(t)
	s := e.signer(t, signerOpts{})
	signed := pades(t, e.form, s, padesOpts{contentSize: 2048})
	last := bytes.LastIndex(signed, []byte("xref\n0 1"))
	withUpdate := func(update string) []byte {
		out := append([]byte{}, e.form...)
		return append(out, update...)
	}
	cases := []struct {
		name  string
		cades bool
		in    []byte
	}{
		// 8 MB of nested indefinite-length headers: fatal stack overflow
		// in pkcs7's recursive BER-to-DER conversion.
		{"CAdES nested BER", true, bytes.Repeat([]byte{0x30, 0x80}, 4_000_000)},
		{"CAdES nested BER in base64", true, []byte(b64(bytes.Repeat([]byte{0x30, 0x80}, 100_000)))},
		// An xref subsection starting at object 99,999,999: the PDF reader
		// grows its table one entry at a time up to it.
		{"PDF huge xref subsection", false, append(append([]byte{}, signed[:last]...),
			[]byte("xref\n99999999 1\n0000000000 65535 f \ntrailer\n<< /Size 3 /Root 1 0 R >>\nstartxref\n"+strconv.Itoa(last)+"\n%%EOF\n")...)},
		{"PDF deep nesting", false, append(append(append([]byte{}, signed[:last]...), bytes.Repeat([]byte("["), 1_000_000)...), signed[last:]...)},
		// No %%EOF at the end: the reader searches backwards quadratically.
		{"PDF without final EOF", false, append(append([]byte{}, signed...), bytes.Repeat([]byte("x"), 1<<20)...)},
		{"PDF huge /Size", false, withUpdate("trailer\n<< /Size 4000000000 >>\n%%EOF\n")},
		{"PDF wide xref stream", false, withUpdate("9 0 obj\n<< /Type /XRef /Index [9 1] /W [1 99 1] >>\nstream\nx\nendstream\nendobj\n%%EOF\n")},
		{"PDF xref stream without /Index", false, withUpdate("9 0 obj\n<< /Type /XRef /Size 9 /W [1 2 1] >>\nstream\nx\nendstream\nendobj\n%%EOF\n")},
		{"PDF xref stream with many entries", false, withUpdate("9 0 obj\n<< /Type /XRef /Size 9 /Index [9 100 200 100] /W [1 2 1] >>\nstream\nx\nendstream\nendobj\n%%EOF\n")},
		{"PDF xref table with many entries", false, withUpdate("xref\n9 200\n" + strings.Repeat("0000000010 00000 n \n", 200) + "trailer\n<< /Size 209 >>\nstartxref\n0\n%%EOF\n")},
		{"PDF object stream", false, withUpdate("9 0 obj\n<< /Type /ObjStm /N 1 >>\nstream\nx\nendstream\nendobj\n%%EOF\n")},
		{"PDF oversized update", false, withUpdate(string(bytes.Repeat([]byte(" "), maxUpdate+1)) + "%%EOF\n")},
		{"PDF unterminated string", false, withUpdate("9 0 obj\n(abc\n%%EOF\n")},
	}
	// A second signature dictionary, outside the AcroForm, whose /Contents
	// is a long run of nested BER headers: pdfsign would hand it to pkcs7.
	nested := bytes.Repeat([]byte{0x30, 0x80}, 40_000)
	cases = append(cases, struct {
		name  string
		cades bool
		in    []byte
	}{"PDF hidden signature with a long string", false, pades(t, e.form, s, padesOpts{
		extra: "<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /adbe.pkcs7.detached /ByteRange [0 1 2 3] /Contents <" + hexString(nested) + "> >>",
	})})
	// Stream data inside an array is tokenised by the reader: a screen that
	// skipped it would let deep nesting through.
	cases = append(cases, struct {
		name  string
		cades bool
		in    []byte
	}{"PDF stream inside an array", false, pades(t, e.form, s, padesOpts{
		extra: "[ << >> stream\n" + strings.Repeat("[", 100_000) + "\nendstream ]",
	})})
	// A page tree whose /Kids points at itself: the reader's Page(i) would
	// loop forever.
	cases = append(cases, struct {
		name  string
		cades bool
		in    []byte
	}{"PDF cyclic page tree", false, pades(t, e.form, s, padesOpts{
		redefine: map[int]string{2: "<< /Type /Pages /Kids [2 0 R] /Count 1 >>"},
	})})
	// One large object resolved many times was the remaining amplification:
	// objects are bounded in size and may not nest.
	cases = append(cases, struct {
		name  string
		cades bool
		in    []byte
	}{"PDF large object", false, pades(t, e.form, s, padesOpts{
		extra: "[" + strings.Repeat("0 ", 800_000) + "]",
	})}, struct {
		name  string
		cades bool
		in    []byte
	}{"PDF nested object definitions", false, pades(t, e.form, s, padesOpts{
		extra: "[ 99 0 obj 1 endobj ]",
	})})
	reason := map[string]string{
		"PDF large object":                        "object too large",
		"PDF nested object definitions":           "object definition inside another",
		"PDF cyclic page tree":                    "page tree too large or cyclic",
		"PDF xref stream without /Index":          "without /Index",
		"PDF xref stream with many entries":       "too many objects",
		"PDF xref table with many entries":        "too many objects",
		"PDF stream inside an array":              "stream keyword inside",
		"CAdES nested BER":                        "nested too deeply",
		"CAdES nested BER in base64":              "nested too deeply",
		"PDF huge xref subsection":                "cross-reference subsection out of range",
		"PDF deep nesting":                        "objects nested too deeply",
		"PDF without final EOF":                   "does not end with %%EOF",
		"PDF huge /Size":                          "/Size out of range",
		"PDF wide xref stream":                    "/W out of range",
		"PDF object stream":                       "object streams",
		"PDF oversized update":                    "signature update is",
		"PDF unterminated string":                 "unterminated string",
		"PDF hidden signature with a long string": "long string outside",
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// No wall-clock bound here (it failed under -race on a loaded
			// machine): the expected reason proves the screen refused the
			// input before the expensive parse, and a hang hits go test's
			// timeout.
			var err error
			if tc.cades {
				_, err = e.v.VerifyCAdES(context.Background(), tc.in, e.issued)
			} else {
				_, err = e.v.VerifyPAdES(context.Background(), tc.in, e.issued)
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if want := reason[tc.name]; !strings.Contains(err.Error(), want) {
				t.Fatalf("refused for another reason: %v, want %q", err, want)
			}
		})
	}
}

func b64(b []byte) string {
	const enc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	var out []byte
	for i := 0; i+2 < len(b); i += 3 {
		n := int(b[i])<<16 | int(b[i+1])<<8 | int(b[i+2])
		out = append(out, enc[n>>18&63], enc[n>>12&63], enc[n>>6&63], enc[n&63])
	}
	return string(out)
}

func TestScreenBER(t *testing.T) {
	e := newEnv(t)
	p7m := cades(t, e.form, e.signer(t, signerOpts{}))
	if err := screenBER(p7m); err != nil {
		t.Fatalf("a real SignedData: %v", err)
	}
	// Indefinite lengths at a sane depth are BER, and fine.
	if err := screenBER([]byte{0x30, 0x80, 0x04, 0x01, 0x41, 0x30, 0x80, 0x00, 0x00, 0x00, 0x00}); err != nil {
		t.Fatalf("indefinite lengths: %v", err)
	}
	for name, in := range map[string][]byte{
		"empty":                   {},
		"truncated":               p7m[:len(p7m)-1],
		"header only":             {0x30},
		"length beyond the data":  {0x30, 0x84, 0x7f, 0xff, 0xff, 0xff},
		"length of 5 bytes":       {0x30, 0x85, 0, 0, 0, 0, 1, 0},
		"indefinite primitive":    {0x04, 0x80, 0x00, 0x00},
		"child overruns parent":   {0x30, 0x02, 0x04, 0x02, 0x41, 0x42},
		"unterminated indefinite": {0x30, 0x80, 0x04, 0x01, 0x41},
		"too deep":                bytes.Repeat([]byte{0x30, 0x80}, maxBERDepth+1),
	} {
		if err := screenBER(in); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// A signature that reserves more than maxString for its own /Contents is
// still accepted: only other long strings are refused.
func TestPAdESLargeReservedContents(t *testing.T) {
	e := newEnv(t)
	signed := pades(t, e.form, e.signer(t, signerOpts{}), padesOpts{contentSize: maxString})
	if rep, err := e.v.VerifyPAdES(context.Background(), signed, e.issued); err != nil {
		t.Fatalf("%v\n%+v", err, rep.Checks)
	}
}
