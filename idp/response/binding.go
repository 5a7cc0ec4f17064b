package response

import (
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/spid-idp/spid-idp/idp/spid"
)

// Field is one hidden input of the HTTP-POST form.
type Field struct {
	Name  string
	Value string
}

// Form is what the auto-submitting HTTP-POST page needs (spec §4.1): the
// templates package renders it.
type Form struct {
	Action string
	Fields []Field
}

// PostForm returns the HTTP-POST binding data for a message: param
// ("SAMLResponse" or "SAMLRequest") holds the standard base64 of xml with no
// line breaks, and RelayState is present only when relayState is non-empty,
// byte-identical to what the SP sent (C102, C103).
func PostForm(action string, param string, xml []byte, relayState string) Form {
	f := Form{Action: action, Fields: make([]Field, 0, 2)}
	f.Fields = append(f.Fields, Field{Name: param, Value: base64.StdEncoding.EncodeToString(xml)})
	if relayState != "" {
		f.Fields = append(f.Fields, Field{Name: "RelayState", Value: relayState})
	}
	return f
}

// RedirectURL returns endpoint with the HTTP-Redirect binding query for an
// unsigned message (built with Unsigned): param is raw-DEFLATEd, base64ed,
// then the query "param=…[&RelayState=…]&SigAlg=…" — values encoded with
// url.QueryEscape, the form SP libraries re-create to verify (§4.10, C180) —
// is signed with RSA-SHA256 and the Signature appended.
func (b *Builder) RedirectURL(endpoint string, xml []byte, param string, relayState string) (string, error) {
	pair := b.pair()
	if pair.Key == nil {
		return "", errNoKey
	}
	if param != "SAMLRequest" && param != "SAMLResponse" {
		return "", fmt.Errorf("response: redirect parameter %q is neither SAMLRequest nor SAMLResponse", param)
	}
	u, err := url.Parse(endpoint)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return "", fmt.Errorf("response: redirect endpoint %q is not an absolute URL", endpoint)
	}
	if u.Fragment != "" || strings.Contains(endpoint, "#") {
		return "", fmt.Errorf("response: redirect endpoint %q has a fragment", endpoint)
	}
	if len(xml) == 0 {
		return "", errors.New("response: empty message")
	}
	// The binding requires any XML signature to be removed; a signed message
	// here means the caller forgot Unsigned.
	if bytes.Contains(xml, []byte(spid.NSDSig)) {
		return "", errors.New("response: message carries an XML signature; build it with Unsigned for HTTP-Redirect")
	}

	var z bytes.Buffer
	w, _ := flate.NewWriter(&z, flate.BestCompression) // level is valid: no error
	if _, err := w.Write(xml); err != nil {
		return "", fmt.Errorf("response: deflating: %w", err)
	}
	if err := w.Close(); err != nil {
		return "", fmt.Errorf("response: deflating: %w", err)
	}

	var q strings.Builder
	q.WriteString(param)
	q.WriteByte('=')
	q.WriteString(url.QueryEscape(base64.StdEncoding.EncodeToString(z.Bytes())))
	if relayState != "" {
		q.WriteString("&RelayState=")
		q.WriteString(url.QueryEscape(relayState))
	}
	q.WriteString("&SigAlg=")
	q.WriteString(url.QueryEscape(spid.AlgRSASHA256))
	digest := sha256.Sum256([]byte(q.String()))
	sig, err := pair.SignSHA256(digest[:])
	if err != nil {
		return "", fmt.Errorf("response: signing redirect query: %w", err)
	}
	q.WriteString("&Signature=")
	q.WriteString(url.QueryEscape(base64.StdEncoding.EncodeToString(sig)))

	sep := "?"
	if u.RawQuery != "" || strings.HasSuffix(endpoint, "?") {
		sep = "&"
		if strings.HasSuffix(endpoint, "?") || strings.HasSuffix(endpoint, "&") {
			sep = ""
		}
	}
	return endpoint + sep + q.String(), nil
}
