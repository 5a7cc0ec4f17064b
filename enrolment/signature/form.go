package signature

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	_ "time/tzdata" // the form shows the Italian time even on hosts without tzdata
	"unicode"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/unicode/norm"
)

// FormData is what the adhesion form carries (spec §5.3): the request code,
// every attribute, the declaration, the terms and privacy-notice versions,
// and the SHA-256 of the canonical JSON of the request.
type FormData struct {
	Code string
	// Attributes are printed one per line as "label: value", the known
	// SPID attributes first with their labels in words.
	Attributes     map[string]string
	Declaration    string
	TermsVersion   string
	PrivacyVersion string
	// RequestHash is the lower-case hex SHA-256 of the canonical JSON of the
	// request (64 characters).
	RequestHash string
	IssuedAt    time.Time
}

// Page geometry (A4 in points) and type sizes.
const (
	pageW, pageH   = 595, 842
	margin         = 56
	bodySize       = 10
	titleSize      = 14
	leading        = 14
	footerY        = 36
	firstLineY     = pageH - margin - titleSize
	lastLineY      = footerY + 2*leading
	maxLineWidth   = pageW - 2*margin
	maxFieldLength = 4096
)

var rome = mustRome()

func mustRome() *time.Location {
	loc, err := time.LoadLocation("Europe/Rome")
	if err != nil { // unreachable: time/tzdata is embedded
		return time.UTC
	}
	return loc
}

// line is one line of the form: bold lines are headings.
type line struct {
	text string
	bold bool
}

// attrLabels name the SPID attributes on the form (ui.md P05's labels),
// Italian / English.
var attrLabels = []struct{ key, label string }{
	{"name", "Nome / Given name"},
	{"familyName", "Cognome / Family name"},
	{"fiscalNumber", "Codice fiscale / Tax code"},
	{"dateOfBirth", "Data di nascita / Date of birth"},
	{"placeOfBirth", "Luogo di nascita / Place of birth"},
	{"countyOfBirth", "Provincia di nascita / Province of birth"},
	{"gender", "Sesso / Sex"},
	{"idCard", "Documento d'identità / Identity document"},
	{"email", "Indirizzo e-mail / E-mail"},
	{"mobilePhone", "Numero di cellulare / Mobile number"},
	{"address", "Domicilio / Domicile"},
	{"digitalAddress", "Domicilio digitale (PEC) / Digital address (PEC)"},
	{"companyName", "Ragione sociale / Company name"},
	{"registeredOffice", "Sede legale / Registered office"},
	{"ivaCode", "Partita IVA / VAT number"},
	{"companyFiscalNumber", "Codice fiscale dell'ente / Entity tax code"},
}

// attrLabel is the printed label of an attribute key; known is false (and
// the label the key itself) for one without a label.
func attrLabel(key string) (label string, known bool) {
	for _, f := range attrLabels {
		if f.key == key {
			return f.label, true
		}
	}
	return key, false
}

// Form renders the adhesion form as a small PDF 1.4 file: Helvetica text on
// as many A4 pages as needed, no compression, no external resources, so the
// bytes are reproducible for the same FormData and every signing tool can
// open it. Text outside Windows-1252 is printed as "?"; the request hash
// printed on the form binds the exact data anyway.
//
// The caller must keep the returned bytes: the verifiers compare the signed
// content with them byte for byte.
func Form(req FormData) ([]byte, error) {
	if err := req.validate(); err != nil {
		return nil, fmt.Errorf("signature: adhesion form: %w", err)
	}
	hash := strings.ToLower(req.RequestHash)
	issued := req.IssuedAt.In(rome)

	var ls []line
	add := func(bold bool, s string) {
		for _, w := range wrap(s, maxLineWidth, bold) {
			ls = append(ls, line{text: w, bold: bold})
		}
	}
	blank := func() { ls = append(ls, line{}) }

	add(false, "Codice richiesta / Request code: "+req.Code)
	add(false, "Emesso il / Issued at: "+issued.Format("02/01/2006 15:04:05 MST")+" ("+req.IssuedAt.UTC().Format(time.RFC3339)+")")
	blank()
	add(true, "Dati del richiedente / Applicant data")
	// Known attributes first, in the order a person reads them, each with
	// its label in words; any other after them, sorted, under its key.
	var keys, rest []string
	for _, f := range attrLabels {
		if _, ok := req.Attributes[f.key]; ok {
			keys = append(keys, f.key)
		}
	}
	for k := range req.Attributes {
		if _, known := attrLabel(k); !known {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range append(keys, rest...) {
		label, _ := attrLabel(k)
		add(false, label+": "+req.Attributes[k])
	}
	blank()
	add(true, "Dichiarazione / Declaration")
	for _, p := range strings.Split(req.Declaration, "\n") {
		add(false, p)
	}
	blank()
	add(true, "Documenti accettati / Accepted documents")
	add(false, "Condizioni del servizio, versione / Terms of service, version: "+req.TermsVersion)
	add(false, "Informativa privacy, versione / Privacy notice, version: "+req.PrivacyVersion)
	blank()
	add(true, "Impronta della richiesta / Request fingerprint")
	add(false, "SHA-256: "+hash)
	blank()
	add(false, "Firmare questo documento senza modificarlo (CAdES .p7m o PAdES) e caricarlo entro 30 giorni.")
	add(false, "Sign this document without changing it (CAdES .p7m or PAdES) and upload it within 30 days.")

	title := "SPID - Modulo di adesione / Adhesion form"
	perPage := (firstLineY-leading*2-lastLineY)/leading + 1
	var pages [][]line
	for len(ls) > 0 {
		n := min(perPage, len(ls))
		pages = append(pages, ls[:n])
		ls = ls[n:]
	}

	w := &pdfWriter{}
	w.header()
	// Objects: 1 catalog, 2 page tree, 3 Helvetica, 4 Helvetica-Bold,
	// 5 info, then for page i (0-based) 6+2i page and 7+2i its content.
	pageObj := func(i int) int { return 6 + 2*i }
	w.object(1, "<< /Type /Catalog /Pages 2 0 R >>")
	var kids strings.Builder
	for i := range pages {
		if i > 0 {
			kids.WriteByte(' ')
		}
		fmt.Fprintf(&kids, "%d 0 R", pageObj(i))
	}
	w.object(2, fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", kids.String(), len(pages)))
	w.object(3, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
	w.object(4, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>")
	w.object(5, fmt.Sprintf("<< /Title %s /Subject %s /Creator (spid-idp) /Producer (spid-idp) /CreationDate %s /SPIDRequestCode %s /SPIDRequestHash %s >>",
		pdfString("SPID - Modulo di adesione / Adhesion form"),
		pdfString("Richiesta / Request "+req.Code),
		pdfString(pdfDate(req.IssuedAt)),
		pdfString(req.Code), pdfString(hash)))
	for i, pg := range pages {
		var c bytes.Buffer
		y := firstLineY
		textLine(&c, "F2", titleSize, margin, y, title)
		y -= 2 * leading
		for _, l := range pg {
			if l.text != "" {
				font := "F1"
				if l.bold {
					font = "F2"
				}
				textLine(&c, font, bodySize, margin, y, l.text)
			}
			y -= leading
		}
		textLine(&c, "F1", 8, margin, footerY, fmt.Sprintf("Richiesta / Request %s - pagina / page %d/%d", req.Code, i+1, len(pages)))
		w.object(pageObj(i), fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents %d 0 R >>",
			pageW, pageH, pageObj(i)+1))
		w.stream(pageObj(i)+1, c.Bytes())
	}
	id := sha256.Sum256([]byte(req.Code + "\x00" + hash + "\x00" + req.IssuedAt.UTC().Format(time.RFC3339Nano)))
	w.finish(1, 5, hex.EncodeToString(id[:16]))
	return w.buf.Bytes(), nil
}

func (req FormData) validate() error {
	var errs []error
	if strings.TrimSpace(req.Code) == "" {
		errs = append(errs, errors.New("request code is empty"))
	}
	if len(req.RequestHash) != 2*sha256.Size {
		errs = append(errs, fmt.Errorf("request hash has %d characters, want %d hex digits", len(req.RequestHash), 2*sha256.Size))
	} else if _, err := hex.DecodeString(req.RequestHash); err != nil {
		errs = append(errs, errors.New("request hash is not hexadecimal"))
	}
	if req.IssuedAt.IsZero() {
		errs = append(errs, errors.New("issue time is not set"))
	}
	if strings.TrimSpace(req.Declaration) == "" {
		errs = append(errs, errors.New("declaration is empty"))
	}
	if strings.TrimSpace(req.TermsVersion) == "" {
		errs = append(errs, errors.New("terms version is empty"))
	}
	if strings.TrimSpace(req.PrivacyVersion) == "" {
		errs = append(errs, errors.New("privacy notice version is empty"))
	}
	fields := []string{req.Code, req.Declaration, req.TermsVersion, req.PrivacyVersion}
	for k, v := range req.Attributes {
		if strings.TrimSpace(k) == "" {
			errs = append(errs, errors.New("an attribute has an empty name"))
		}
		fields = append(fields, k, v)
	}
	for _, f := range fields {
		if len(f) > maxFieldLength {
			errs = append(errs, fmt.Errorf("a field is longer than %d bytes", maxFieldLength))
			break
		}
	}
	return errors.Join(errs...)
}

// pdfWriter writes numbered objects and remembers their offsets for the
// cross-reference table.
type pdfWriter struct {
	buf     bytes.Buffer
	offsets map[int]int
	maxObj  int
}

func (w *pdfWriter) header() {
	w.offsets = map[int]int{}
	// The comment with bytes above 127 tells transfer tools the file is binary.
	w.buf.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
}

func (w *pdfWriter) begin(n int) {
	w.offsets[n] = w.buf.Len()
	w.maxObj = max(w.maxObj, n)
	fmt.Fprintf(&w.buf, "%d 0 obj\n", n)
}

func (w *pdfWriter) object(n int, body string) {
	w.begin(n)
	w.buf.WriteString(body)
	w.buf.WriteString("\nendobj\n")
}

func (w *pdfWriter) stream(n int, data []byte) {
	w.begin(n)
	fmt.Fprintf(&w.buf, "<< /Length %d >>\nstream\n", len(data))
	w.buf.Write(data)
	w.buf.WriteString("\nendstream\nendobj\n")
}

func (w *pdfWriter) finish(root, info int, id string) {
	xref := w.buf.Len()
	fmt.Fprintf(&w.buf, "xref\n0 %d\n", w.maxObj+1)
	// Each entry is exactly 20 bytes, end of line included.
	w.buf.WriteString("0000000000 65535 f \n")
	for i := 1; i <= w.maxObj; i++ {
		fmt.Fprintf(&w.buf, "%010d 00000 n \n", w.offsets[i])
	}
	fmt.Fprintf(&w.buf, "trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R /ID [<%s> <%s>] >>\nstartxref\n%d\n%%%%EOF\n",
		w.maxObj+1, root, info, id, id, xref)
}

func textLine(b *bytes.Buffer, font string, size, x, y int, s string) {
	fmt.Fprintf(b, "BT /%s %d Tf %d %d Td %s Tj ET\n", font, size, x, y, pdfString(s))
}

// pdfString encodes s as a PDF literal string in WinAnsiEncoding, with
// octal escapes for everything outside printable ASCII so the file stays
// 7-bit clean outside its binary marker.
func pdfString(s string) string {
	var b strings.Builder
	b.WriteByte('(')
	for _, c := range winAnsi(s) {
		switch {
		case c == '(' || c == ')' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c > 0x7e:
			b.WriteByte('\\')
			b.WriteString(fmt.Sprintf("%03o", c))
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte(')')
	return b.String()
}

// winAnsi maps s (NFC) to Windows-1252 bytes: control characters become
// spaces, characters the encoding lacks become '?'.
func winAnsi(s string) []byte {
	out := make([]byte, 0, len(s))
	for _, r := range norm.NFC.String(s) {
		switch {
		case unicode.IsControl(r) || unicode.IsSpace(r):
			out = append(out, ' ')
		case r < 0x80:
			out = append(out, byte(r))
		default:
			if c, ok := charmap.Windows1252.EncodeRune(r); ok {
				out = append(out, c)
			} else {
				out = append(out, '?')
			}
		}
	}
	return out
}

func pdfDate(t time.Time) string {
	return "D:" + t.UTC().Format("20060102150405") + "Z"
}

// helvetica holds the Helvetica advance widths (1/1000 em) of ASCII 32–126,
// from the standard font metrics; wrapping needs them, nothing else does.
var helvetica = [95]int{
	278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, // space … /
	556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // 0 … ?
	1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // @ … O
	667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // P … _
	333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // ` … o
	556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, // p … ~
}

// textWidth is the width of s in points at the body size; bold text is
// counted 10 % wider, characters outside ASCII as a wide letter, both on the
// safe side.
func textWidth(s []byte, bold bool) float64 {
	total := 0
	for _, c := range s {
		if c >= 32 && c <= 126 {
			total += helvetica[c-32]
		} else {
			total += 778
		}
	}
	w := float64(total) * bodySize / 1000
	if bold {
		w *= 1.1
	}
	return w
}

// wrap splits s into lines no wider than width, at spaces where possible and
// inside over-long words otherwise. Lines are returned as UTF-8 text.
func wrap(s string, width float64, bold bool) []string {
	words := strings.Fields(s)
	if len(words) == 0 {
		return []string{""}
	}
	var lines []string
	cur := ""
	fits := func(t string) bool { return textWidth(winAnsi(t), bold) <= width }
	for _, w := range words {
		cand := w
		if cur != "" {
			cand = cur + " " + w
		}
		if fits(cand) {
			cur = cand
			continue
		}
		if cur != "" {
			lines = append(lines, cur)
			cur = ""
		}
		// Break a word that does not fit on a line of its own.
		for !fits(w) {
			rs := []rune(w)
			n := len(rs) - 1
			for n > 1 && !fits(string(rs[:n])) {
				n--
			}
			lines = append(lines, string(rs[:n]))
			w = string(rs[n:])
		}
		cur = w
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines
}
