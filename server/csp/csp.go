// Package csp builds the Content-Security-Policy every response carries
// (security.md S082, C.9): nothing is allowed unless named, scripts, styles
// and images come from the IdP itself, and forms may post only to the IdP —
// except on a page answering a flow, which may also post to the origin of
// the one endpoint (the SP's ACS or SLO service) that flow answers.
package csp

import (
	"net/http"
	"net/url"
	"strings"
)

// Header is the response header the policy travels in.
const Header = "Content-Security-Policy"

// sources lists what the pages need and nothing more: their own scripts
// (login, push, enrolment, auto-submit), stylesheets, images (the QR code of
// the app activation is a data: URI), and fetch() back to the IdP (push
// polling, the enrolment fiscal-code check). No 'unsafe-inline' anywhere.
const sources = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// Policy is the policy of a page whose forms post to the IdP and, when
// given, to formOrigins (each "scheme://host[:port]", as Origin returns).
func Policy(formOrigins ...string) string {
	if len(formOrigins) == 0 {
		return sources
	}
	return sources + " " + strings.Join(formOrigins, " ")
}

// AllowFormTo sets h's policy so that forms may also post to the origins of
// targets (absolute URLs), for the page that hands a SAML message to an SP.
// A target that is not a plain http(s) URL is left out: the browser then
// refuses that post, which is the safe failure.
func AllowFormTo(h http.Header, targets ...string) {
	var origins []string
	seen := map[string]bool{}
	for _, t := range targets {
		if o, ok := Origin(t); ok && !seen[o] {
			seen[o] = true
			origins = append(origins, o)
		}
	}
	h.Set(Header, Policy(origins...))
}

// Origin is the serialised origin of an absolute http(s) URL, safe to put in
// a policy: no user info, and a host made only of the characters a host
// name, IPv4 or bracketed IPv6 literal and port use (so a crafted URL in SP
// metadata cannot smuggle "; script-src *" into the header).
func Origin(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.User != nil || u.Host == "" {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "https" && scheme != "http" {
		return "", false
	}
	host := strings.ToLower(u.Host)
	for _, c := range host {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '.', c == '-', c == ':', c == '[', c == ']':
		default:
			return "", false
		}
	}
	return scheme + "://" + host, true
}
