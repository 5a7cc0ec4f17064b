package signature

import (
	"bytes"
	"context"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/digitorus/pdf"
	"github.com/digitorus/pdfsign/verify"
	"github.com/digitorus/pkcs7"
)

// CheckUnchangedPages names the PAdES check that the signed revision shows
// the same pages as the issued form.
const CheckUnchangedPages = "pages_unchanged"

// Limits of the walk over an uploaded PDF's objects: enough for any form
// with one signature, small enough that a crafted file cannot make us
// loop or blow up.
const (
	maxFieldDepth = 4
	maxFields     = 64
	maxDumpNodes  = 20000
	maxStream     = 4 << 20
)

// VerifyPAdES verifies a PDF signed with a PAdES (or adbe.pkcs7.detached)
// signature: exactly one signature, covering the whole file; the bytes
// before it are issued.Form followed only by the incremental update that
// adds the signature, which must leave every page as issued; the CMS
// signature verifies (ours and pdfsign's verification must both accept it);
// and the checks of spec §5.3 common with CAdES pass. The report is
// returned in every case; a refusal is an *Error.
func (v *Verifier) VerifyPAdES(ctx context.Context, file []byte, issued Issued) (rep Report, err error) {
	rep, err = v.start("PAdES", issued)
	if err != nil {
		return rep, err
	}
	defer recovered(&rep, &err)

	if !bytes.HasPrefix(file, []byte("%PDF-")) {
		return rep, rep.fail(CheckParse, refuse(CodeMalformed, "not a PDF file", nil))
	}
	// The file must be our form plus one incremental update. Checking that
	// before any parsing keeps arbitrary bytes away from the PDF reader, and
	// the update, the only part the uploader wrote, is screened for the
	// shapes that make that reader hang or exhaust memory.
	if !bytes.HasPrefix(file, issued.Form) {
		return rep, rep.fail(CheckContent, refuse(CodeContentMismatch, "the file does not start with the issued form", nil))
	}
	long, perr := screenUpdate(file[len(issued.Form):])
	if perr != nil {
		return rep, rep.fail(CheckParse, refuse(CodeMalformed, "", perr))
	}
	rdr, perr := pdf.NewReader(bytes.NewReader(file), int64(len(file)))
	if perr != nil {
		return rep, rep.fail(CheckParse, refuse(CodeMalformed, "unreadable PDF", perr))
	}
	sigs, perr := signatureValues(rdr)
	if perr != nil {
		return rep, rep.fail(CheckParse, refuse(CodeMalformed, "", perr))
	}
	if len(sigs) == 0 {
		return rep, rep.fail(CheckParse, refuse(CodeMalformed, "the PDF carries no signature", nil))
	}
	rep.pass(CheckParse, "PDF with signature field")
	if len(sigs) != 1 {
		return rep, rep.fail(CheckSigners, refuse(CodeSigners, fmt.Sprintf("%d signatures", len(sigs)), nil))
	}
	sig := sigs[0]
	if sf := sig.Key("SubFilter").Name(); sf != "ETSI.CAdES.detached" && sf != "adbe.pkcs7.detached" {
		return rep, rep.fail(CheckParse, refuse(CodeMalformed, "unsupported signature SubFilter "+strconv.Quote(sf), nil))
	}

	br, cmsDER, perr := byteRange(sig, file)
	if perr != nil {
		return rep, rep.fail(CheckParse, refuse(CodeMalformed, "", perr))
	}
	for _, l := range long {
		if int64(len(issued.Form)+l.start) != br[1] || int64(len(issued.Form)+l.end) != br[2] {
			return rep, rep.fail(CheckParse, refuse(CodeMalformed, "a long string outside the signature's contents", nil))
		}
	}
	// The first signed range must start with the form: what the signer
	// signed is our form plus the update that adds the signature.
	if br[1] < int64(len(issued.Form)) || !bytes.HasPrefix(file, issued.Form) {
		return rep, rep.fail(CheckContent, refuse(CodeContentMismatch, "the signed revision does not start with the issued form", nil))
	}
	if err := samePages(issued.Form, rdr); err != nil {
		return rep, rep.fail(CheckUnchangedPages, refuse(CodeContentMismatch, "", err))
	}
	rep.pass(CheckContent, fmt.Sprintf("form is the first %d bytes of the signed range", len(issued.Form)))
	rep.pass(CheckUnchangedPages, "")

	if perr := screenBER(cmsDER); perr != nil {
		return rep, rep.fail(CheckParse, refuse(CodeMalformed, "signature is not a CMS SignedData structure", perr))
	}
	p7, perr := pkcs7.Parse(cmsDER)
	if perr != nil {
		return rep, rep.fail(CheckParse, refuse(CodeMalformed, "signature is not a CMS SignedData structure", perr))
	}
	if len(p7.Content) != 0 {
		return rep, rep.fail(CheckParse, refuse(CodeMalformed, "PDF signature must be detached", nil))
	}
	leaf, err := onlySigner(&rep, p7)
	if err != nil {
		return rep, err
	}
	signed := make([]byte, 0, br[1]+br[3])
	signed = append(signed, file[:br[1]]...)
	signed = append(signed, file[br[2]:]...)
	p7.Content = signed

	// PAdES puts the claimed signing time in the signature dictionary (/M),
	// which the byte range covers; CMS-style signers may use signingTime.
	at, ok := signedSigningTime(p7)
	source := "cms signingTime signed attribute"
	if !ok {
		at, ok = parsePDFDate(sig.Key("M").Text())
		source = "signature dictionary /M (signed by the byte range)"
	}
	if !ok {
		return rep, rep.fail(CheckSigningTime, refuse(CodeNoSigningTime, "neither signingTime nor /M", nil))
	}
	rep.SigningTime, rep.SigningTimeSource = at.UTC(), source
	rep.pass(CheckSigningTime, source)

	err = v.checkSigner(ctx, &rep, p7, leaf, at, issued, func() error { return pdfsignAgrees(file) })
	return rep, err
}

// signatureValues returns the signature dictionaries (/V) of the signature
// fields of the document's AcroForm.
func signatureValues(r *pdf.Reader) ([]pdf.Value, error) {
	var out []pdf.Value
	seen := 0
	var walk func(fields pdf.Value, depth int, inheritedSig bool) error
	walk = func(fields pdf.Value, depth int, inheritedSig bool) error {
		if depth > maxFieldDepth {
			return errors.New("form fields nested too deeply")
		}
		for i := 0; i < fields.Len(); i++ {
			seen++
			if seen > maxFields {
				return errors.New("too many form fields")
			}
			f := fields.Index(i)
			isSig := f.Key("FT").Name() == "Sig" || (f.Key("FT").IsNull() && inheritedSig)
			if isSig && f.Key("V").Kind() == pdf.Dict {
				out = append(out, f.Key("V"))
			}
			if kids := f.Key("Kids"); kids.Kind() == pdf.Array {
				if err := walk(kids, depth+1, isSig); err != nil {
					return err
				}
			}
		}
		return nil
	}
	fields := r.Trailer().Key("Root").Key("AcroForm").Key("Fields")
	if fields.Kind() != pdf.Array {
		return nil, nil
	}
	return out, walk(fields, 0, false)
}

// byteRange validates /ByteRange [0 a b c]: it must cover the whole file but
// the signature hole [a, b), and the hole must be exactly the hex string of
// /Contents. It returns the range and the CMS bytes from the hole.
func byteRange(sig pdf.Value, file []byte) ([4]int64, []byte, error) {
	var br [4]int64
	arr := sig.Key("ByteRange")
	if arr.Kind() != pdf.Array || arr.Len() != 4 {
		return br, nil, errors.New("/ByteRange must hold exactly two ranges")
	}
	for i := range br {
		x := arr.Index(i)
		if x.Kind() != pdf.Integer {
			return br, nil, errors.New("/ByteRange holds a non-integer")
		}
		br[i] = x.Int64()
	}
	n := int64(len(file))
	if br[0] != 0 || br[1] <= 0 || br[2] <= br[1] || br[3] < 0 || br[2] > n || br[3] > n || br[2]+br[3] != n {
		return br, nil, fmt.Errorf("/ByteRange %v does not cover the whole file of %d bytes", br, n)
	}
	hole := file[br[1]:br[2]]
	if len(hole) < 2 || hole[0] != '<' || hole[len(hole)-1] != '>' {
		return br, nil, errors.New("the unsigned part of the file is not the signature's hex string")
	}
	der, err := hex.DecodeString(string(hole[1 : len(hole)-1]))
	if err != nil {
		return br, nil, fmt.Errorf("signature contents: %w", err)
	}
	if !bytes.Equal(der, []byte(sig.Key("Contents").RawString())) {
		return br, nil, errors.New("/Contents is not the string in the byte-range hole")
	}
	// Signing tools pad the reserved space with zeros: keep the DER element.
	var raw asn1.RawValue
	if _, err := asn1.Unmarshal(der, &raw); err == nil {
		der = raw.FullBytes
	}
	return br, der, nil
}

// samePages compares every page of the signed file with the issued form:
// same count, and each page dictionary (content streams, resources, fonts,
// media box …) identical after resolving references, except /Annots, which
// may only gain signature widgets. This refuses a "shadow" update that
// changes what the signer saw while keeping our bytes as a prefix.
func samePages(form []byte, signed *pdf.Reader) error {
	orig, err := pdf.NewReader(bytes.NewReader(form), int64(len(form)))
	if err != nil {
		return fmt.Errorf("issued form unreadable: %w", err)
	}
	want, err := pageList(orig)
	if err != nil {
		return fmt.Errorf("issued form: %w", err)
	}
	got, err := pageList(signed)
	if err != nil {
		return err
	}
	if len(got) != len(want) {
		return fmt.Errorf("the signed document has %d pages, the form %d", len(got), len(want))
	}
	for i := range want {
		a, err := dumpPage(want[i])
		if err != nil {
			return err
		}
		pg := got[i]
		b, err := dumpPage(pg)
		if err != nil {
			return err
		}
		if !bytes.Equal(a, b) {
			return fmt.Errorf("page %d differs from the issued form", i+1)
		}
		annots := pg.Key("Annots")
		if annots.Len() > maxFields {
			return fmt.Errorf("page %d has too many annotations", i+1)
		}
		for j := 0; j < annots.Len(); j++ {
			an := annots.Index(j)
			ft := an.Key("FT")
			if ft.IsNull() {
				ft = an.Key("Parent").Key("FT")
			}
			if an.Key("Subtype").Name() != "Widget" || ft.Name() != "Sig" {
				return fmt.Errorf("page %d has an annotation that is not a signature field", i+1)
			}
		}
	}
	return nil
}

// maxPages bounds the page tree walk; the form has a handful of pages.
const maxPages = 1000

// pageList walks the page tree in order. The reader's own Page(i) loops
// forever on a /Kids cycle, which an uploaded update can create; this walk
// is bounded in nodes and depth instead.
func pageList(r *pdf.Reader) ([]pdf.Value, error) {
	var out []pdf.Value
	budget := 4 * maxPages
	var walk func(node pdf.Value, depth int) error
	walk = func(node pdf.Value, depth int) error {
		budget--
		if budget < 0 || depth > 16 || len(out) > maxPages {
			return errors.New("page tree too large or cyclic")
		}
		switch node.Key("Type").Name() {
		case "Page":
			out = append(out, node)
		case "Pages":
			kids := node.Key("Kids")
			for i := 0; i < kids.Len(); i++ {
				if err := walk(kids.Index(i), depth+1); err != nil {
					return err
				}
			}
		default:
			return errors.New("page tree node of unknown type")
		}
		return nil
	}
	if err := walk(r.Trailer().Key("Root").Key("Pages"), 0); err != nil {
		return nil, err
	}
	return out, nil
}

func dumpPage(v pdf.Value) ([]byte, error) {
	var b bytes.Buffer
	budget := maxDumpNodes
	if err := dump(&b, v, 0, &budget, map[string]bool{"Parent": true, "Annots": true}); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// dump writes a canonical form of v (dictionary keys sorted, references
// resolved, streams decoded) so two files can be compared by content rather
// than by object numbers.
func dump(b *bytes.Buffer, v pdf.Value, depth int, budget *int, skip map[string]bool) error {
	*budget--
	if *budget < 0 || depth > 12 {
		return errors.New("page structure too complex")
	}
	switch v.Kind() {
	case pdf.Null:
		b.WriteString("null")
	case pdf.Bool, pdf.Integer, pdf.Real:
		b.WriteString(v.String())
	case pdf.String:
		b.WriteString(strconv.Quote(v.RawString()))
	case pdf.Name:
		b.WriteString("/" + v.Name())
	case pdf.Array:
		b.WriteByte('[')
		for i := 0; i < v.Len(); i++ {
			if err := dump(b, v.Index(i), depth+1, budget, nil); err != nil {
				return err
			}
			b.WriteByte(' ')
		}
		b.WriteByte(']')
	case pdf.Dict, pdf.Stream:
		keys := v.Keys()
		sort.Strings(keys)
		b.WriteString("<<")
		for _, k := range keys {
			if skip[k] {
				continue
			}
			b.WriteString("/" + k + " ")
			if err := dump(b, v.Key(k), depth+1, budget, nil); err != nil {
				return err
			}
		}
		b.WriteString(">>")
		if v.Kind() == pdf.Stream {
			rc := v.Reader()
			data, err := io.ReadAll(io.LimitReader(rc, maxStream+1))
			rc.Close()
			if err != nil {
				return fmt.Errorf("stream unreadable: %w", err)
			}
			if len(data) > maxStream {
				return errors.New("stream too large")
			}
			b.WriteString("stream ")
			b.WriteString(strconv.Itoa(len(data)))
			b.WriteByte(' ')
			b.Write(data)
		}
	default:
		return errors.New("unknown PDF object")
	}
	return nil
}

// pdfsignAgrees runs digitorus/pdfsign's verifier as a second opinion on the
// cryptographic signature. Its trust and time decisions are not used (it
// knows nothing of our trust list); ours are.
func pdfsignAgrees(file []byte) error {
	opts := verify.DefaultVerifyOptions()
	opts.EnableExternalRevocationCheck = false
	resp, err := verify.VerifyWithOptions(bytes.NewReader(file), int64(len(file)), opts)
	if err != nil {
		return fmt.Errorf("pdfsign: %w", err)
	}
	if resp == nil || len(resp.Signers) != 1 {
		return errors.New("pdfsign: not exactly one signature")
	}
	if !resp.Signers[0].ValidSignature {
		msg := "signature invalid"
		if resp.Error != "" {
			msg = resp.Error
		}
		return errors.New("pdfsign: " + msg)
	}
	return nil
}

// parsePDFDate parses a PDF date "D:YYYYMMDDHHmmSS" with an optional
// offset "Z", "+HH'mm'" or "-HH'mm'"; without an offset it reads UTC. Signing
// tools always write the seconds, so shorter forms are refused.
func parsePDFDate(s string) (time.Time, bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "D:")
	if len(s) < 14 || !isDigits(s[:14]) {
		return time.Time{}, false
	}
	t, err := time.Parse("20060102150405", s[:14])
	if err != nil {
		return time.Time{}, false
	}
	rest := s[14:]
	if rest == "" || rest[0] == 'Z' {
		return t, true
	}
	sign := time.Duration(1)
	switch rest[0] {
	case '+':
	case '-':
		sign = -1
	default:
		return time.Time{}, false
	}
	tz := strings.ReplaceAll(rest[1:], "'", "")
	if (len(tz) != 2 && len(tz) != 4) || !isDigits(tz) {
		return time.Time{}, false
	}
	h, _ := strconv.Atoi(tz[:2])
	m := 0
	if len(tz) == 4 {
		m, _ = strconv.Atoi(tz[2:])
	}
	if h > 23 || m > 59 {
		return time.Time{}, false
	}
	// Local time minus its offset is UTC.
	return t.Add(-sign * (time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)), true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}
