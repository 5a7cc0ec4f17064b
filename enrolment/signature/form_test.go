package signature

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/digitorus/pdf"
)

const testHash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

func testFormData(issued time.Time) FormData {
	return FormData{
		Code: "7K3M9QZ2XH",
		Attributes: map[string]string{
			"name":         "Nicolò",
			"familyName":   "D'Angelo (Rossi)",
			"fiscalNumber": "TINIT-RSSMRA80A01H501U",
			"dateOfBirth":  "1980-01-01",
			"email":        "mario@example.it",
			"address":      "Via Roma 1 \\ scala B 00100 Roma RM",
		},
		Declaration:    "Dichiaro, consapevole delle sanzioni penali previste dall'art. 76 del DPR 445/2000 per le dichiarazioni mendaci, che i dati forniti sono veri.\nI declare that the data given are true.",
		TermsVersion:   "2026-10",
		PrivacyVersion: "2026-09",
		RequestHash:    testHash,
		IssuedAt:       issued,
	}
}

// pdfText extracts the text of every page with the PDF reader the verifier
// uses (pdftotext is not installed on the build machines). That reader drops
// spaces, so callers compare with nospace.
func pdfText(t *testing.T, b []byte) []string {
	t.Helper()
	r, err := pdf.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("the form does not parse: %v", err)
	}
	var pages []string
	for i := 1; i <= r.NumPage(); i++ {
		var s strings.Builder
		for _, tx := range r.Page(i).Content().Text {
			s.WriteString(tx.S)
		}
		pages = append(pages, s.String())
	}
	return pages
}

func nospace(s string) string { return strings.ReplaceAll(s, " ", "") }

func TestFormCarriesEveryField(t *testing.T) {
	req := testFormData(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	b, err := Form(req)
	if err != nil {
		t.Fatal(err)
	}
	pages := pdfText(t, b)
	if len(pages) != 1 {
		t.Fatalf("%d pages, want 1", len(pages))
	}
	text := pages[0]
	want := []string{
		"Request code: 7K3M9QZ2XH",
		"25/11/2026 11:00:00 CET (2026-11-25T10:00:00Z)",
		"Nome / Given name: Nicolò",
		"Cognome / Family name: D'Angelo (Rossi)",
		"Codice fiscale / Tax code: TINIT-RSSMRA80A01H501U",
		"Data di nascita / Date of birth: 1980-01-01",
		"Indirizzo e-mail / E-mail: mario@example.it",
		`Domicilio / Domicile: Via Roma 1 \ scala B 00100 Roma RM`,
		"art. 76 del DPR 445/2000",
		"I declare that the data given are true.",
		"version: 2026-10",
		"version: 2026-09",
		"SHA-256: " + testHash,
		"pagina / page 1/1",
	}
	for _, w := range want {
		if !strings.Contains(text, nospace(w)) {
			t.Errorf("form text lacks %q", w)
		}
	}
	// Attributes labelled in words, in reading order (issue 12: no raw keys).
	if strings.Index(text, nospace("Nome / Given name:")) > strings.Index(text, nospace("Cognome / Family name:")) ||
		strings.Index(text, nospace("Cognome / Family name:")) > strings.Index(text, nospace("Codice fiscale / Tax code:")) {
		t.Error("attributes are not in reading order")
	}
	for _, raw := range []string{"familyName:", "fiscalNumber:", "dateOfBirth:"} {
		if strings.Contains(text, raw) {
			t.Errorf("raw key %q on the form", raw)
		}
	}
	again, _ := Form(req)
	if !bytes.Equal(b, again) {
		t.Error("Form is not deterministic")
	}
}

// The cross-reference table must point at each object exactly.
func TestFormXrefOffsets(t *testing.T) {
	b, err := Form(testFormData(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`startxref\n(\d+)\n%%EOF\n$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("no startxref at the end")
	}
	xref, _ := strconv.Atoi(string(m[1]))
	if !bytes.HasPrefix(b[xref:], []byte("xref\n0 ")) {
		t.Fatalf("startxref %d does not point at the xref table", xref)
	}
	lines := strings.Split(string(b[xref:]), "\n")
	var n int
	fmt.Sscanf(lines[1], "0 %d", &n)
	if n < 8 {
		t.Fatalf("xref declares %d objects", n)
	}
	for i := 1; i < n; i++ {
		entry := lines[2+i]
		if len(entry)+1 != 20 {
			t.Fatalf("xref entry %d is %d bytes, want 20", i, len(entry)+1)
		}
		off, _ := strconv.Atoi(entry[:10])
		if !bytes.HasPrefix(b[off:], []byte(fmt.Sprintf("%d 0 obj\n", i))) {
			t.Fatalf("xref entry %d points at %q", i, b[off:off+10])
		}
	}
}

func TestFormPagesAndWrapping(t *testing.T) {
	req := testFormData(time.Now())
	req.Attributes = map[string]string{}
	for i := 0; i < 80; i++ {
		req.Attributes[fmt.Sprintf("attr%02d", i)] = strings.Repeat("WWWW ", 30) + "end" + strconv.Itoa(i)
	}
	req.Attributes["long"] = strings.Repeat("X", 300) + " ZZ"
	req.Attributes["nonlatin"] = "Łukasz 王 €"
	b, err := Form(req)
	if err != nil {
		t.Fatal(err)
	}
	pages := pdfText(t, b)
	if len(pages) < 3 {
		t.Fatalf("%d pages for 80 long attributes", len(pages))
	}
	all := strings.Join(pages, "")
	for i := 0; i < 80; i++ {
		if !strings.Contains(all, "end"+strconv.Itoa(i)) {
			t.Fatalf("attribute %d lost in wrapping", i)
		}
	}
	if !strings.Contains(all, nospace("nonlatin: ?ukasz ? €")) {
		t.Error("characters outside Windows-1252 should print as ?, the euro sign as itself")
	}
	if !strings.Contains(pages[len(pages)-1], fmt.Sprintf("page%d/%d", len(pages), len(pages))) {
		t.Error("last page footer")
	}
	// No line may run past the right margin.
	r, _ := pdf.NewReader(bytes.NewReader(b), int64(len(b)))
	for _, line := range wrap(req.Attributes["long"], maxLineWidth, false) {
		if textWidth(winAnsi(line), false) > maxLineWidth {
			t.Fatalf("line too wide: %q", line)
		}
	}
	if r.NumPage() != len(pages) {
		t.Fatal("page count")
	}
}

func TestFormRefusesIncompleteData(t *testing.T) {
	good := testFormData(time.Now())
	cases := map[string]func(*FormData){
		"no code":         func(f *FormData) { f.Code = " " },
		"short hash":      func(f *FormData) { f.RequestHash = "abc" },
		"non-hex hash":    func(f *FormData) { f.RequestHash = strings.Repeat("g", 64) },
		"no issue time":   func(f *FormData) { f.IssuedAt = time.Time{} },
		"no declaration":  func(f *FormData) { f.Declaration = "" },
		"no terms":        func(f *FormData) { f.TermsVersion = "" },
		"no privacy":      func(f *FormData) { f.PrivacyVersion = "" },
		"empty attribute": func(f *FormData) { f.Attributes = map[string]string{"": "x"} },
		"huge field":      func(f *FormData) { f.Declaration = strings.Repeat("a", maxFieldLength+1) },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			f := good
			mutate(&f)
			if _, err := Form(f); err == nil {
				t.Fatal("Form accepted incomplete data")
			}
		})
	}
}

func TestParsePDFDate(t *testing.T) {
	base := time.Date(2026, 11, 25, 10, 30, 15, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"D:20261125103015Z":       base,
		"D:20261125103015":        base,
		"D:20261125113015+01'00'": base,
		"D:20261125083015-02'00":  base,
		"20261125103015Z00'00'":   base,
	} {
		got, ok := parsePDFDate(in)
		if !ok || !got.Equal(want) {
			t.Errorf("parsePDFDate(%q) = %v %v, want %v", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "D:2026", "D:20261325103015Z", "D:20261125103015+1", "D:20261125103015x", "D:2026112510301Z"} {
		if _, ok := parsePDFDate(bad); ok {
			t.Errorf("parsePDFDate(%q) accepted", bad)
		}
	}
}
