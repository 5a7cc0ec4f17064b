package evidence

import (
	"bytes"
	"encoding/base64"
	"mime"
	"net/http"
	"strings"
)

// Media types recorded for accepted documents.
const (
	TypeJPEG = "image/jpeg"
	TypePNG  = "image/png"
	TypePDF  = "application/pdf"
	TypeP7M  = "application/pkcs7-mime" // CAdES: CMS SignedData, DER or BER
)

// sniffLen is how much of the content Sniff needs: what
// net/http.DetectContentType reads.
const sniffLen = 512

// Sniff names the media type of content from its first bytes, ignoring
// whatever the uploader claimed: net/http.DetectContentType, plus CMS
// SignedData (.p7m), which the standard library does not recognise, in DER
// or BER and in the PEM and base64 text forms some signing tools write.
func Sniff(head []byte) string {
	if isSignedData(head) || isSignedDataText(head) {
		return TypeP7M
	}
	return http.DetectContentType(head)
}

// pemSignedData are the PEM labels signing tools put on a .p7m.
var pemSignedData = []string{"-----BEGIN PKCS7-----", "-----BEGIN CMS-----", "-----BEGIN PKCS #7 SIGNED DATA-----"}

// isSignedDataText reports whether head is the start of a PEM-armoured or
// bare base64 SignedData: the first base64 characters decode to its start.
func isSignedDataText(head []byte) bool {
	t := bytes.TrimLeft(head, " \t\r\n")
	for _, l := range pemSignedData {
		if bytes.HasPrefix(t, []byte(l)) {
			t = t[len(l):]
			break
		}
	}
	var b64 []byte
	for _, c := range t {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/':
			b64 = append(b64, c)
		case c == ' ', c == '\t', c == '\r', c == '\n':
		default:
			// The end of the head (or of the text): judge what came so far.
			c = 0
		}
		if c == 0 || len(b64) >= 64 {
			break
		}
	}
	b64 = b64[:len(b64)/4*4]
	d, err := base64.StdEncoding.DecodeString(string(b64))
	return err == nil && isSignedData(d)
}

// signedDataOID is the DER encoding of the OID 1.2.840.113549.1.7.2 (id-signedData)
// with its tag and length.
var signedDataOID = []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02}

// isSignedData reports whether head starts a CMS ContentInfo whose
// contentType is signedData: a SEQUENCE (definite or, as some signing
// tools write, indefinite length) whose first element is that OID.
func isSignedData(head []byte) bool {
	if len(head) < 2 || head[0] != 0x30 {
		return false
	}
	i := 2
	switch l := head[1]; {
	case l == 0x80: // BER indefinite length
	case l < 0x80: // short form: too small for a signed document, but valid
	case l <= 0x84:
		i += int(l & 0x7f)
	default:
		return false
	}
	return len(head) >= i+len(signedDataOID) && bytes.Equal(head[i:i+len(signedDataOID)], signedDataOID)
}

// documentTypes are what citizens and agents may upload (spec §3.7 [DEC]).
var documentTypes = map[string]bool{TypeJPEG: true, TypePNG: true, TypePDF: true, TypeP7M: true}

// recordTypes are the declared types the IdP's own text records may carry
// (checklists, transaction logs, certificate chains), when the content
// sniffs as plain text.
var recordTypes = map[string]bool{
	"application/json":                  true,
	"application/pem-certificate-chain": true,
	"text/plain":                        true,
}

// baseType is a media type without parameters, lower-cased; "" when it
// does not parse.
func baseType(mt string) string {
	t, _, err := mime.ParseMediaType(mt)
	if err != nil {
		return ""
	}
	return strings.ToLower(t)
}
