package response_test

import (
	"bytes"
	"compress/flate"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/idp/response"
	"github.com/spid-idp/spid-idp/idp/response/responsetest"
	"github.com/spid-idp/spid-idp/idp/spid"
)

// spBoundAnomalies are the anomalies of spec §5 answered to the SP.
var spBoundAnomalies = []spid.Anomaly{
	spid.NrNotCompliant, spid.NrVersion, spid.NrID, spid.NrAuthnContext, spid.NrIssueInstant,
	spid.NrDestination, spid.NrIsPassive, spid.NrACS, spid.NrNameIDPolicy, spid.NrAttrConsumingIndex,
	spid.NrCredentialsExhausted, spid.NrLevelUnavailable, spid.NrTimeout, spid.NrConsentDenied,
	spid.NrSuspendedRevoked, spid.NrCancelled, spid.NrIdentityType,
}

func TestErrorResponses(t *testing.T) {
	b := newBuilder(t)
	const (
		req   = "urn:oasis:names:tc:SAML:2.0:status:Requester"
		resp  = "urn:oasis:names:tc:SAML:2.0:status:Responder"
		vm    = "urn:oasis:names:tc:SAML:2.0:status:VersionMismatch"
		af    = "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"
		unsup = "urn:oasis:names:tc:SAML:2.0:status:RequestUnsupported"
	)
	// The table of spec §5, written out independently of spid.Anomaly.Status.
	want := map[spid.Anomaly][2]string{
		8: {req, ""}, 9: {vm, ""}, 11: {req, ""},
		12: {req, "urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext"},
		13: {req, "urn:oasis:names:tc:SAML:2.0:status:RequestDenied"},
		14: {req, unsup}, 15: {req, "urn:oasis:names:tc:SAML:2.0:status:NoPassive"},
		16: {req, unsup}, 17: {req, unsup}, 18: {req, unsup},
		19: {resp, af}, 20: {resp, af}, 21: {resp, af}, 22: {resp, af}, 23: {resp, af}, 25: {resp, af}, 30: {resp, af},
	}
	for _, a := range spBoundAnomalies {
		t.Run(a.String(), func(t *testing.T) {
			irt := requestID
			if a == spid.NrID {
				irt = "" // no usable request ID: InResponseTo omitted
			}
			out, err := b.Error(response.ErrorResponse{InResponseTo: irt, Destination: acsURL, Anomaly: a})
			if err != nil {
				t.Fatal(err)
			}
			r := parse(t, out)
			attrs := map[string]string{"ID": r.SelectAttrValue("ID", ""), "Version": "2.0",
				"IssueInstant": r.SelectAttrValue("IssueInstant", ""), "Destination": acsURL}
			if irt != "" {
				attrs["InResponseTo"] = irt
			}
			wantAttrs(t, r, attrs)
			if got := instant(t, r.SelectAttrValue("IssueInstant", "")); got.Before(clock) || got.After(clock.Add(time.Millisecond)) {
				t.Errorf("IssueInstant %v", got)
			}
			wantChildren(t, r, nsA+"Issuer", nsDS+"Signature", nsP+"Status")
			checkSignatureShape(t, r)
			if _, err := responsetest.Verify(r, b.Signing.Cert, clock); err != nil {
				t.Errorf("signature: %v", err)
			}
			st := one(t, r, spid.NSProtocol, "Status")
			wantChildren(t, st, nsP+"StatusCode", nsP+"StatusMessage")
			top := one(t, st, spid.NSProtocol, "StatusCode")
			if top.SelectAttrValue("Value", "") != want[a][0] {
				t.Errorf("top status %q, want %q", top.SelectAttrValue("Value", ""), want[a][0])
			}
			if want[a][1] == "" {
				wantChildren(t, top)
			} else {
				wantChildren(t, top, nsP+"StatusCode")
				if got := one(t, top, spid.NSProtocol, "StatusCode").SelectAttrValue("Value", ""); got != want[a][1] {
					t.Errorf("sub status %q, want %q", got, want[a][1])
				}
			}
			msg := one(t, st, spid.NSProtocol, "StatusMessage").Text()
			if len(msg) != len("ErrorCode nr00") || msg[:12] != "ErrorCode nr" || msg != a.Message() {
				t.Errorf("StatusMessage %q", msg)
			}
		})
	}
	// User-bound anomalies and codes the table does not define are refused.
	for _, a := range []spid.Anomaly{1, 2, 3, 4, 5, 6, 7, 10, 24, 26, 27, 28, 29, 31, 100} {
		if _, err := b.Error(response.ErrorResponse{InResponseTo: requestID, Destination: acsURL, Anomaly: a}); err == nil {
			t.Errorf("Error accepted anomaly %d", a)
		}
	}
}

func TestLogoutRequest(t *testing.T) {
	b := newBuilder(t)
	l := response.LogoutRequest{
		ID: "_lr1", Destination: "https://sp.example.org/slo", NameID: "_nid", SessionIndex: "_sess1",
		Reason: "urn:oasis:names:tc:SAML:2.0:logout:user",
	}
	out, err := b.LogoutRequest(l)
	if err != nil {
		t.Fatal(err)
	}
	r := parse(t, out)
	if r.NamespaceURI() != spid.NSProtocol || r.Tag != "LogoutRequest" {
		t.Fatalf("root %s", r.Tag)
	}
	ii := r.SelectAttrValue("IssueInstant", "")
	noa := r.SelectAttrValue("NotOnOrAfter", "")
	wantAttrs(t, r, map[string]string{"ID": "_lr1", "Version": "2.0", "IssueInstant": ii, "NotOnOrAfter": noa,
		"Destination": l.Destination, "Reason": l.Reason})
	if instant(t, noa).Sub(instant(t, ii)) != response.DefaultAssertionLifetime {
		t.Errorf("NotOnOrAfter %s for IssueInstant %s", noa, ii)
	}
	wantChildren(t, r, nsA+"Issuer", nsDS+"Signature", nsA+"NameID", nsP+"SessionIndex")
	wantAttrs(t, one(t, r, spid.NSAssertion, "Issuer"), map[string]string{"Format": spid.NameIDEntity, "NameQualifier": idpEntity})
	nid := one(t, r, spid.NSAssertion, "NameID")
	wantAttrs(t, nid, map[string]string{"Format": spid.NameIDTransient, "NameQualifier": idpEntity})
	if nid.Text() != "_nid" || one(t, r, spid.NSProtocol, "SessionIndex").Text() != "_sess1" {
		t.Errorf("NameID %q", nid.Text())
	}
	checkSignatureShape(t, r)
	if _, err := responsetest.Verify(r, b.Signing.Cert, clock); err != nil {
		t.Errorf("signature: %v", err)
	}

	l.Unsigned = true
	out, err = b.LogoutRequest(l)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte("Signature")) {
		t.Error("unsigned LogoutRequest has a Signature")
	}

	for _, bad := range []func(*response.LogoutRequest){
		func(l *response.LogoutRequest) { l.ID = "" },
		func(l *response.LogoutRequest) { l.ID = "1abc" },
		func(l *response.LogoutRequest) { l.SessionIndex = "" },
		func(l *response.LogoutRequest) { l.NameID = " _nid" },
		func(l *response.LogoutRequest) { l.Destination = "" },
	} {
		c := l
		bad(&c)
		if _, err := b.LogoutRequest(c); err == nil {
			t.Errorf("accepted %+v", c)
		}
	}
}

func TestLogoutResponse(t *testing.T) {
	b := newBuilder(t)
	for _, tc := range []struct {
		name             string
		in               response.LogoutResponse
		wantTop, wantSub string
	}{
		{"success", response.LogoutResponse{InResponseTo: "_req", Destination: "https://sp.example.org/slo"}, spid.StatusSuccess, ""},
		{"partial", response.LogoutResponse{InResponseTo: "_req", Destination: "https://sp.example.org/slo",
			Status: spid.StatusRequester, SubStatus: spid.StatusPartialLogout}, spid.StatusRequester, spid.StatusPartialLogout},
		{"denied, no ID", response.LogoutResponse{Destination: "https://sp.example.org/slo",
			Status: spid.StatusRequester, SubStatus: spid.StatusRequestDenied}, spid.StatusRequester, spid.StatusRequestDenied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := b.LogoutResponse(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			r := parse(t, out)
			if r.Tag != "LogoutResponse" {
				t.Fatalf("root %s", r.Tag)
			}
			attrs := map[string]string{"ID": r.SelectAttrValue("ID", ""), "Version": "2.0",
				"IssueInstant": r.SelectAttrValue("IssueInstant", ""), "Destination": tc.in.Destination}
			if tc.in.InResponseTo != "" {
				attrs["InResponseTo"] = tc.in.InResponseTo
			}
			wantAttrs(t, r, attrs)
			instant(t, r.SelectAttrValue("IssueInstant", ""))
			wantChildren(t, r, nsA+"Issuer", nsDS+"Signature", nsP+"Status")
			wantAttrs(t, one(t, r, spid.NSAssertion, "Issuer"), map[string]string{"Format": spid.NameIDEntity, "NameQualifier": idpEntity})
			top := one(t, one(t, r, spid.NSProtocol, "Status"), spid.NSProtocol, "StatusCode")
			if top.SelectAttrValue("Value", "") != tc.wantTop {
				t.Errorf("top %q", top.SelectAttrValue("Value", ""))
			}
			if tc.wantSub == "" {
				wantChildren(t, top)
			} else if got := one(t, top, spid.NSProtocol, "StatusCode").SelectAttrValue("Value", ""); got != tc.wantSub {
				t.Errorf("sub %q", got)
			}
			checkSignatureShape(t, r)
			if _, err := responsetest.Verify(r, b.Signing.Cert, clock); err != nil {
				t.Errorf("signature: %v", err)
			}
		})
	}
	for _, bad := range []response.LogoutResponse{
		{Destination: "https://sp.example.org/slo"}, // success without InResponseTo
		{InResponseTo: "_r", Destination: "https://sp.example.org/slo", SubStatus: spid.StatusPartialLogout},
		{InResponseTo: "_r", Destination: "https://sp.example.org/slo", Status: spid.StatusPartialLogout},
		{InResponseTo: "_r", Destination: "https://sp.example.org/slo", Status: spid.StatusRequester, SubStatus: "PartialLogout"},
		{InResponseTo: "_r"},
	} {
		if _, err := b.LogoutResponse(bad); err == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
}

// The Redirect binding: raw DEFLATE, base64, query signed over the
// url.QueryEscape-encoded "param&RelayState&SigAlg" (C180).
func TestRedirectURL(t *testing.T) {
	b := newBuilder(t)
	msg, err := b.LogoutResponse(response.LogoutResponse{InResponseTo: "_req", Destination: "https://sp.example.org/slo?a=1", Unsigned: true})
	if err != nil {
		t.Fatal(err)
	}
	const relay = "ré lay/&=?+"
	u, err := b.RedirectURL("https://sp.example.org/slo?a=1", msg, "SAMLResponse", relay)
	if err != nil {
		t.Fatal(err)
	}
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	q := pu.Query()
	if q.Get("a") != "1" || q.Get("RelayState") != relay || q.Get("SigAlg") != spid.AlgRSASHA256 {
		t.Errorf("query %v", q)
	}
	raw, err := base64.StdEncoding.DecodeString(q.Get("SAMLResponse"))
	if err != nil {
		t.Fatal(err)
	}
	xml, err := io.ReadAll(flate.NewReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatalf("not raw DEFLATE: %v", err)
	}
	if !bytes.Equal(xml, msg) {
		t.Error("inflated message differs")
	}
	// Re-create the signed string the way SPID SP libraries do.
	signed := "SAMLResponse=" + url.QueryEscape(q.Get("SAMLResponse")) + "&RelayState=" + url.QueryEscape(relay) +
		"&SigAlg=" + url.QueryEscape(q.Get("SigAlg"))
	if !strings.Contains(pu.RawQuery, signed+"&Signature=") {
		t.Errorf("query does not carry the signed string verbatim:\n%s", pu.RawQuery)
	}
	sig, err := base64.StdEncoding.DecodeString(q.Get("Signature"))
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte(signed))
	if err := rsa.VerifyPKCS1v15(b.Signing.Cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, d[:], sig); err != nil {
		t.Errorf("query signature: %v", err)
	}

	// No RelayState: the parameter is absent, not empty.
	u, err = b.RedirectURL("https://sp.example.org/slo", msg, "SAMLResponse", "")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(u, "RelayState") || !strings.HasPrefix(u, "https://sp.example.org/slo?SAMLResponse=") {
		t.Errorf("url %s", u)
	}

	signedMsg, _ := b.LogoutResponse(response.LogoutResponse{InResponseTo: "_req", Destination: "https://sp.example.org/slo"})
	for _, tc := range []struct {
		endpoint, param string
		xml             []byte
	}{
		{"https://sp.example.org/slo", "SAMLResponse", signedMsg},
		{"https://sp.example.org/slo", "RelayState", msg},
		{"/slo", "SAMLResponse", msg},
		{"https://sp.example.org/slo#frag", "SAMLResponse", msg},
		{"https://sp.example.org/slo", "SAMLResponse", nil},
	} {
		if _, err := b.RedirectURL(tc.endpoint, tc.xml, tc.param, ""); err == nil {
			t.Errorf("RedirectURL(%q, %q) accepted", tc.endpoint, tc.param)
		}
	}
}

func TestPostForm(t *testing.T) {
	xml := bytes.Repeat([]byte("<x>é</x>"), 40) // long enough that MIME wrapping would show
	f := response.PostForm(acsURL, "SAMLResponse", xml, "")
	if f.Action != acsURL || len(f.Fields) != 1 || f.Fields[0].Name != "SAMLResponse" {
		t.Fatalf("form %+v", f)
	}
	if strings.ContainsAny(f.Fields[0].Value, "\r\n") || f.Fields[0].Value != base64.StdEncoding.EncodeToString(xml) {
		t.Error("SAMLResponse is not standard base64 on one line")
	}
	f = response.PostForm(acsURL, "SAMLResponse", xml, " relay\x00 ")
	if len(f.Fields) != 2 || f.Fields[1] != (response.Field{Name: "RelayState", Value: " relay\x00 "}) {
		t.Errorf("RelayState not byte-identical: %+v", f.Fields)
	}
}

func TestSuccessRejectsBadInput(t *testing.T) {
	b := newBuilder(t)
	for name, mut := range map[string]func(*response.Success){
		"no InResponseTo":         func(s *response.Success) { s.InResponseTo = "" },
		"InResponseTo not NCName": func(s *response.Success) { s.InResponseTo = "a b" },
		"no Destination":          func(s *response.Success) { s.Destination = "" },
		"no Audience":             func(s *response.Success) { s.Audience = "" },
		"Audience with space":     func(s *response.Success) { s.Audience = spEntity + " " },
		"no NameID":               func(s *response.Success) { s.NameID = "" },
		"NameID control char":     func(s *response.Success) { s.NameID = "a\nb" },
		"bad UTF-8":               func(s *response.Success) { s.NameID = "a\xffb" },
		"level 0":                 func(s *response.Success) { s.Level = 0 },
		"level 4":                 func(s *response.Success) { s.Level = 4 },
		"no AuthnInstant":         func(s *response.Success) { s.AuthnInstant = time.Time{} },
		"AuthnInstant in future":  func(s *response.Success) { s.AuthnInstant = clock.Add(time.Minute) },
		"unrequested attributes":  func(s *response.Success) { s.IncludeAttributeStatement = false },
		"unknown attribute": func(s *response.Success) {
			s.Attributes = append(s.Attributes, response.Attribute{Name: "qualification", Value: "x"})
		},
		"empty attribute":     func(s *response.Success) { s.Attributes[0].Value = "" },
		"duplicate attribute": func(s *response.Success) { s.Attributes = append(s.Attributes, s.Attributes[0]) },
	} {
		s := sampleSuccess()
		mut(&s)
		if _, err := b.Success(s); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}

	for name, bb := range map[string]*response.Builder{
		"no key":       {EntityID: idpEntity},
		"no entity":    {Signing: b.Signing},
		"bad NewID":    {EntityID: idpEntity, Signing: b.Signing, NewID: func() string { return "1-bad" }},
		"constant IDs": {EntityID: idpEntity, Signing: b.Signing, NewID: func() string { return "_same" }},
	} {
		if _, err := bb.Success(sampleSuccess()); err == nil {
			t.Errorf("builder %s: accepted", name)
		}
	}
}

// Defaults: real clock, random IDs, five-minute lifetime; consecutive
// Responses never share IDs (C105, C119 is the caller's NameID).
func TestBuilderDefaults(t *testing.T) {
	b := &response.Builder{EntityID: idpEntity, Signing: responsetest.Pair(t, 0)}
	s := sampleSuccess()
	s.RequestIssueInstant = time.Time{}
	s.AuthnInstant = time.Now().Add(-time.Second)
	seen := map[string]bool{}
	for i := 0; i < 3; i++ {
		out, err := b.Success(s)
		if err != nil {
			t.Fatal(err)
		}
		r := parse(t, out)
		for _, id := range []string{r.SelectAttrValue("ID", ""), one(t, r, spid.NSAssertion, "Assertion").SelectAttrValue("ID", "")} {
			if seen[id] || len(id) != 33 || id[0] != '_' {
				t.Errorf("ID %q reused or malformed", id)
			}
			seen[id] = true
		}
		issue := instant(t, r.SelectAttrValue("IssueInstant", ""))
		if d := time.Since(issue); d < -time.Second || d > 5*time.Second {
			t.Errorf("IssueInstant %v not now", issue)
		}
	}
	if id := response.RandomID(); len(id) != 33 || id == response.RandomID() {
		t.Errorf("RandomID %q", id)
	}
}

// One Builder serves concurrent logins (run with -race).
func TestConcurrentUse(t *testing.T) {
	b := &response.Builder{EntityID: idpEntity, Signing: responsetest.Pair(t, 0)}
	s := sampleSuccess()
	s.RequestIssueInstant, s.AuthnInstant = time.Time{}, time.Now().Add(-time.Second)
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			_, err := b.Success(s)
			if err == nil {
				_, err = b.Error(response.ErrorResponse{Destination: acsURL, Anomaly: spid.NrTimeout})
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
