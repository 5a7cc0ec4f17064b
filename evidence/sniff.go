package evidence

import (
	"bytes"
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
// SignedData (.p7m), which the standard library does not recognise.
func Sniff(head []byte) string {
	if isSignedData(head) {
		return TypeP7M
	}
	return http.DetectContentType(head)
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
