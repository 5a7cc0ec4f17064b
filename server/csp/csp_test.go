package csp

import (
	"net/http"
	"strings"
	"testing"
)

func TestPolicyNamesEverySourceAndNoInlineCode(t *testing.T) {
	p := Policy()
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
		"connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(p, want) {
			t.Errorf("policy %q lacks %q", p, want)
		}
	}
	if !strings.HasSuffix(p, "form-action 'self'") || strings.Contains(p, "unsafe-") {
		t.Errorf("policy %q: want form-action 'self' only and nothing unsafe", p)
	}
}

func TestAllowFormToAddsExactlyTheTargetOrigin(t *testing.T) {
	cases := map[string]struct {
		targets []string
		want    string
	}{
		"ACS":                       {[]string{"https://sp.example.it:8443/acs?x=1"}, "form-action 'self' https://sp.example.it:8443"},
		"upper case":                {[]string{"HTTPS://SP.Example.IT/acs"}, "form-action 'self' https://sp.example.it"},
		"IPv6":                      {[]string{"http://[::1]:8080/acs"}, "form-action 'self' http://[::1]:8080"},
		"duplicates once":           {[]string{"https://a.it/1", "https://a.it/2", "https://b.it/"}, "form-action 'self' https://a.it https://b.it"},
		"javascript: left out":      {[]string{"javascript:alert(1)"}, "form-action 'self'"},
		"relative left out":         {[]string{"/acs"}, "form-action 'self'"},
		"user info left out":        {[]string{"https://u:p@sp.it/acs"}, "form-action 'self'"},
		"directive smuggling":       {[]string{"https://sp.it;script-src%20*/acs"}, "form-action 'self'"},
		"space in host left out":    {[]string{"https://sp.it%20*/acs"}, "form-action 'self'"},
		"wildcard host left out":    {[]string{"https://*.sp.it/acs"}, "form-action 'self'"},
		"quote in host left out":    {[]string{"https://sp.it'/acs"}, "form-action 'self'"},
		"no targets: only the IdP":  {nil, "form-action 'self'"},
		"ftp left out":              {[]string{"ftp://sp.it/acs"}, "form-action 'self'"},
		"one bad, one good":         {[]string{"data:text/html,x", "https://sp.it/acs"}, "form-action 'self' https://sp.it"},
		"path and fragment dropped": {[]string{"https://sp.it/a/b#frag"}, "form-action 'self' https://sp.it"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			h := http.Header{}
			h.Set(Header, Policy())
			AllowFormTo(h, c.targets...)
			got := h.Get(Header)
			if !strings.HasSuffix(got, c.want) || strings.Count(got, "form-action") != 1 {
				t.Errorf("policy %q, want it to end with %q", got, c.want)
			}
		})
	}
}
