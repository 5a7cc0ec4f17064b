package binding

import (
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/spid-idp/spid-idp/idp/spid"
)

// decodePOST reads the form body (bounded by Limits.MaxBody) and decodes
// the SAML message field: base64 of the XML, CR/LF line breaks allowed
// (some SP stacks wrap at 76 columns), nothing else non-canonical (A.11).
func decodePOST(r *http.Request, lim Limits) (*Message, error) {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, fmt.Errorf("%w: Content-Type %q, want application/x-www-form-urlencoded", ErrMalformed, ct)
	}
	if r.Body == nil {
		return nil, fmt.Errorf("%w: SAMLRequest or SAMLResponse", ErrMissing)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, lim.MaxBody+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading body: %v", ErrMalformed, err)
	}
	if int64(len(body)) > lim.MaxBody {
		return nil, fmt.Errorf("%w (limit %d bytes)", ErrTooLarge, lim.MaxBody)
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("%w: form body: %v", ErrMalformed, err)
	}
	for _, k := range []string{ParamRequest, ParamResponse, ParamRelayState} {
		if len(form[k]) > 1 {
			return nil, fmt.Errorf("%w: field %s repeated", ErrMalformed, k)
		}
	}
	m := &Message{Binding: spid.BindingPOST}
	req, hasReq := form[ParamRequest]
	resp, hasResp := form[ParamResponse]
	var val string
	switch {
	case hasReq && hasResp:
		return nil, fmt.Errorf("%w: both SAMLRequest and SAMLResponse present", ErrMalformed)
	case hasReq:
		m.Param, val = ParamRequest, req[0]
	case hasResp:
		m.Param, val = ParamResponse, resp[0]
	}
	if val == "" {
		return nil, fmt.Errorf("%w: SAMLRequest or SAMLResponse", ErrMissing)
	}
	val = strings.NewReplacer("\r", "", "\n", "").Replace(val)
	if len(val) > base64.StdEncoding.EncodedLen(lim.MaxMessage) {
		return nil, fmt.Errorf("%w: %s larger than %d bytes", ErrMalformed, m.Param, lim.MaxMessage)
	}
	if m.XML, err = strictBase64(m.Param, val); err != nil {
		return nil, err
	}
	if len(m.XML) > lim.MaxMessage {
		return nil, fmt.Errorf("%w: %s larger than %d bytes", ErrMalformed, m.Param, lim.MaxMessage)
	}
	if rs, ok := form[ParamRelayState]; ok {
		if len(rs[0]) > lim.MaxRelayState {
			return nil, fmt.Errorf("%w: RelayState longer than %d bytes", ErrMalformed, lim.MaxRelayState)
		}
		if err := checkRelayUTF8(rs[0]); err != nil {
			return nil, err
		}
		m.RelayState, m.HasRelayState = rs[0], true
	}
	if m.Doc, err = Parse(m.XML, lim.MaxDepth); err != nil {
		return nil, err
	}
	m.Root = m.Doc.Root()
	return m, nil
}
