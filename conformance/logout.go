package conformance

import (
	"crypto/x509"
	"net/url"
	"strings"
	"time"
)

// LogoutExpect is what a correct LogoutResponse to the simulator contains.
type LogoutExpect struct {
	IdPEntityID string
	IdPCerts    []*x509.Certificate
	Destination string // the SP's SLO endpoint
	RequestID   string
	Top, Sub    string // expected status pair; empty Top means Success
	// RawQuery is the query string when the response came by HTTP-Redirect
	// (its signature is then in the query, spec §3.1).
	RawQuery string
	Now      time.Time
	Skew     time.Duration
	Strict   bool
}

// ValidateLogoutResponse judges a decoded LogoutResponse (spec §6.4).
func ValidateLogoutResponse(raw []byte, exp LogoutExpect) *Verdict {
	v := newVerdict(exp.Strict)
	v.Evidence = string(raw)
	if exp.Now.IsZero() {
		exp.Now = time.Now()
	}
	if exp.Skew == 0 {
		exp.Skew = time.Second
	}
	doc, err := parseXML(raw)
	if err != nil {
		v.fail("logout.root", "%v", err)
		return v
	}
	root := doc.Root()
	if !v.ensure("logout.root", is(root, nsSAMLP, "LogoutResponse"), "root is {%s}%s, want samlp:LogoutResponse", root.NamespaceURI(), root.Tag) {
		return v
	}
	id, _ := attr(root, "ID")
	ver, _ := attr(root, "Version")
	ii, _ := attr(root, "IssueInstant")
	v.ensure("logout.header", reNCName.MatchString(id), "ID %q missing or not an NCName", id)
	v.ensure("logout.header", ver == "2.0", "Version %q, want 2.0", ver)
	if t, err := parseInstant(ii); err != nil {
		v.fail("logout.header", "IssueInstant: %v", err)
	} else if t.After(exp.Now.Add(exp.Skew)) {
		v.fail("logout.header", "IssueInstant %s in the future", ii)
	}
	irt, _ := attr(root, "InResponseTo")
	v.ensure("logout.inresponseto", irt == exp.RequestID && irt != "", "InResponseTo %q, want %q", irt, exp.RequestID)
	dest, _ := attr(root, "Destination")
	v.ensure("logout.destination", dest == exp.Destination && dest != "", "Destination %q, want %q", dest, exp.Destination)

	iss := children(root, nsSAML, "Issuer")
	if len(iss) != 1 {
		v.fail("logout.issuer", "%d Issuer, want 1", len(iss))
	} else {
		f, _ := attr(iss[0], "Format")
		nq, hasNQ := attr(iss[0], "NameQualifier")
		switch {
		case strings.TrimSpace(iss[0].Text()) != exp.IdPEntityID:
			v.fail("logout.issuer", "Issuer %q, want %q", iss[0].Text(), exp.IdPEntityID)
		case f != fmtEntity:
			v.fail("logout.issuer", "Issuer Format %q, want entity", f)
		case !hasNQ || nq == "":
			v.fail("logout.issuer", "Issuer has no NameQualifier")
		default:
			v.touch("logout.issuer")
		}
	}

	var top, sub string
	if sc := root.FindElement("./Status/StatusCode"); sc != nil {
		top, _ = attr(sc, "Value")
		if s2 := sc.SelectElement("StatusCode"); s2 != nil {
			sub, _ = attr(s2, "Value")
		}
	}
	wantTop := or(exp.Top, statusSuccess)
	v.ensure("logout.status", top == wantTop && (exp.Sub == "" || sub == exp.Sub), "status %q / %q, want %q / %q", short(top), short(sub), short(wantTop), short(exp.Sub))

	if exp.RawQuery != "" {
		if alg, err := verifyRedirect(exp.RawQuery, "SAMLResponse", exp.IdPCerts); err != nil {
			v.fail("logout.signature", "Redirect signature: %v", err)
		} else {
			v.ensure("logout.signature", alg == algRSASHA256 || alg == algRSASHA384 || alg == algRSASHA512, "SigAlg %q is not rsa-sha256/384/512", alg)
		}
		return v
	}
	si := inspectSignature(root, exp.IdPCerts)
	switch {
	case !si.Present:
		v.fail("logout.signature", "LogoutResponse is not signed")
	case si.Err != nil:
		v.fail("logout.signature", "%v", si.Err)
	case !strongSigAlg(si.SigMethod) || !strongDigest(si.DigestMethod):
		v.fail("logout.signature", "weak algorithms %s / %s", si.SigMethod, si.DigestMethod)
	default:
		v.touch("logout.signature")
	}
	return v
}

// redirectXML extracts and inflates param from a Redirect URL.
func redirectXML(rawURL, param string) ([]byte, string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, "", err
	}
	raw, err := decodeRedirectPayload(u.Query().Get(param))
	return raw, u.RawQuery, err
}
