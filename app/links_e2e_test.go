package app

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/spid-idp/spid-idp/demo"
)

// linkRefs finds what a page makes the browser fetch or offers to follow:
// links, stylesheets, images and scripts.
var linkRefs = regexp.MustCompile(`<(?:a|link)\b[^>]*?\bhref="([^"]*)"|<(?:img|script)\b[^>]*?\bsrc="([^"]*)"`)

// TestEveryLinkAnswers follows, as a visitor clicking around would, every
// link of the public pages (the demo service and relying party, the login
// page, enrolment, recovery, customer care, the legal pages, the console's
// login) and of the personal area once logged in, in both languages: each
// one on this server must answer without an error, and every link that
// leaves it must be https. Forms are not posted, so nothing changes state.
func TestEveryLinkAnswers(t *testing.T) {
	a, base, info := portalApp(t)
	if err := a.MountBackOffice(); err != nil {
		t.Fatal(err)
	}
	origin, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	br := newBrowser(t)
	// The login page exists only inside a login transaction.
	login := br.submit(br.get(base+demo.Prefix+"/"), demo.Prefix+"/login", url.Values{"level": {"1"}})
	if login.status != http.StatusOK || !strings.Contains(login.body, `name="password"`) {
		t.Fatalf("login page: %d\n%s", login.status, login.body)
	}
	// Someone who types the IdP's address is not left at a dead end.
	root := br.get(base + "/")
	for _, want := range []string{`href="/account"`, `href="/enrol/"`, `href="/recover"`, `href="/care/tickets/new"`} {
		if !strings.Contains(root.body, want) {
			t.Errorf("the IdP's home (%s) does not offer %s", root.url, want)
		}
	}
	start := []string{base + "/", base + demo.Prefix + "/", base + "/enrol/", base + "/enrol/status",
		base + "/recover", base + "/care/", base + "/account/", base + "/privacy", base + "/accessibility", base + "/terms",
		base + "/console/login"}
	if a.demoFed != nil {
		start = append(start, a.demoFed.RP1.ID+"/")
	}
	// The login page is crawled from the copy in hand: fetching its
	// address again would replay the AuthnRequest.
	crawled := crawl(t, br, origin, []page{login}, start, "")

	// The personal area's own links, with its session.
	home := portalLogin(t, a, br, base, info, info.Password)
	if home.status != http.StatusOK || !strings.Contains(home.body, `action="/account/suspend"`) {
		t.Fatalf("personal area: %d\n%s", home.status, home.body)
	}
	crawled += crawl(t, br, origin, nil, []string{base + "/account/", base + "/account/?lang=en"}, "/account/")
	if crawled < 30 {
		t.Errorf("only %d pages answered: the crawl did not get far", crawled)
	}
	t.Logf("%d pages and files answered", crawled)
}

// crawl fetches the pages from start, and everything they and the pages
// in hand link on origin, breadth first, and fails for each that answers
// with an error, naming the page that links it. With within set only
// paths under it are followed (their links are still checked). It returns
// how many answered.
func crawl(t *testing.T, br *browser, origin *url.URL, have []page, start []string, within string) int {
	t.Helper()
	type item struct{ u, from string }
	var queue []item
	seen := map[string]bool{}
	add := func(raw, from string, base *url.URL) {
		raw = html.UnescapeString(strings.TrimSpace(raw))
		if raw == "" || strings.HasPrefix(raw, "#") || strings.HasPrefix(raw, "mailto:") || strings.HasPrefix(raw, "tel:") ||
			strings.HasPrefix(raw, "data:") {
			return
		}
		u, err := base.Parse(raw)
		if err != nil {
			t.Errorf("%s links a malformed address %q: %v", from, raw, err)
			return
		}
		u.Fragment = ""
		if u.Host != origin.Host {
			if u.Scheme != "https" {
				t.Errorf("%s links %s, which leaves the site without https", from, u)
			}
			return
		}
		if k := linkKey(u); !seen[k] {
			seen[k] = true
			queue = append(queue, item{u.String(), from})
		}
	}
	links := func(p page) {
		for _, m := range linkRefs.FindAllStringSubmatch(p.body, -1) {
			ref := m[1]
			if ref == "" {
				ref = m[2]
			}
			add(ref, p.url.String(), p.url)
		}
	}
	for _, p := range have {
		seen[linkKey(p.url)] = true
		links(p)
	}
	for _, s := range start {
		add(s, "(start)", origin)
	}
	answered := len(have)
	for len(queue) > 0 && answered < 400 {
		it := queue[0]
		queue = queue[1:]
		p := br.get(it.u)
		if p.status >= 400 {
			t.Errorf("%s answers %d (linked from %s)", it.u, p.status, it.from)
			continue
		}
		answered++
		if !strings.HasPrefix(p.header.Get("Content-Type"), "text/html") || p.url.Host != origin.Host ||
			within != "" && !strings.HasPrefix(p.url.Path, within) {
			continue
		}
		links(p)
	}
	if len(queue) > 0 {
		left := make([]string, 0, len(queue))
		for _, it := range queue {
			left = append(left, it.u)
		}
		sort.Strings(left)
		t.Errorf("crawl stopped at 400 pages with %d left, first %s: a link multiplies pages", len(queue), left[0])
	}
	return answered
}

// volatile are query parameters that differ at each visit of the same
// page (a login transaction's handle, a signed request): a link that
// differs only in them leads to the same page.
var volatile = map[string]bool{"flow": true, "SAMLRequest": true, "RelayState": true, "SigAlg": true, "Signature": true,
	"state": true, "nonce": true, "request": true, "code_challenge": true}

func linkKey(u *url.URL) string {
	q := u.Query()
	for k := range q {
		if volatile[k] {
			q[k] = nil
		}
	}
	return u.Host + u.Path + "?" + q.Encode()
}
