// Package testbrowser is the scripted browser of the flow tests: a cookie
// jar that follows redirects on the server under test and stops at the
// first hop that leaves it, so a test plays the relying party's side
// itself. authflow and idp drive their handlers through it.
package testbrowser

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// Browser is one user agent with its own cookies.
type Browser struct {
	T    testing.TB
	Base string
	Jar  http.CookieJar
	c    *http.Client
}

// Page is what the browser ended on: a page of the server, or the first
// redirect that leaves it (Location set, status 3xx).
type Page struct {
	Status   int
	URL      *url.URL
	Location string
	Body     string
	Header   http.Header
}

// New returns a browser for the server at base.
func New(t testing.TB, base string) *Browser {
	jar, _ := cookiejar.New(nil)
	b := &Browser{T: t, Base: base, Jar: jar}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	b.c = &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Host != u.Host {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	return b
}

// Do sends req and reads the whole answer.
func (b *Browser) Do(req *http.Request) Page {
	b.T.Helper()
	res, err := b.c.Do(req)
	if err != nil {
		b.T.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return Page{Status: res.StatusCode, URL: res.Request.URL, Location: res.Header.Get("Location"), Body: string(body), Header: res.Header}
}

// Get fetches u.
func (b *Browser) Get(u string) Page {
	b.T.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		b.T.Fatal(err)
	}
	return b.Do(req)
}

// Post sends form to u as a browser submits a form.
func (b *Browser) Post(u string, form url.Values) Page {
	b.T.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		b.T.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.Do(req)
}

var (
	formRE  = regexp.MustCompile(`(?s)<form[^>]*action="([^"]*)"[^>]*>(.*?)</form>`)
	inputRE = regexp.MustCompile(`<input[^>]*type="hidden"[^>]*name="([^"]*)"[^>]*value="([^"]*)"`)
)

// Form returns the absolute action and the hidden fields of the first form
// of p whose action contains action; the test fails if there is none.
func (b *Browser) Form(p Page, action string) (string, url.Values) {
	b.T.Helper()
	for _, m := range formRE.FindAllStringSubmatch(p.Body, -1) {
		act := html.UnescapeString(m[1])
		if !strings.Contains(act, action) {
			continue
		}
		v := url.Values{}
		for _, in := range inputRE.FindAllStringSubmatch(m[2], -1) {
			v.Set(html.UnescapeString(in[1]), html.UnescapeString(in[2]))
		}
		target, err := p.URL.Parse(act)
		if err != nil {
			b.T.Fatal(err)
		}
		return target.String(), v
	}
	b.T.Fatalf("no form with action %q on %s (status %d):\n%s", action, p.URL, p.Status, p.Body)
	return "", nil
}

// Submit posts that form with extra fields set.
func (b *Browser) Submit(p Page, action string, extra url.Values) Page {
	b.T.Helper()
	target, v := b.Form(p, action)
	for k, vs := range extra {
		v[k] = vs
	}
	return b.Post(target, v)
}

// Cookie returns the value of the browser's cookie name for path on the
// server ("" if none).
func (b *Browser) Cookie(path, name string) string {
	u, _ := url.Parse(b.Base + path)
	for _, c := range b.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}
