// Package webform reads an HTML page's forms as a browser posts them, for
// the tests and load generators that drive the IdP over HTTP without a
// browser: the form's target and its hidden fields, plus what the user
// would type or press.
package webform

import (
	"fmt"
	"html"
	"net/url"
	"regexp"
	"strings"
)

var (
	formRE  = regexp.MustCompile(`(?s)<form[^>]*action="([^"]*)"[^>]*>(.*?)</form>`)
	inputRE = regexp.MustCompile(`<input[^>]*type="hidden"[^>]*name="([^"]*)"[^>]*value="([^"]*)"`)
)

// Form is a form ready to post: where, and the values.
type Form struct {
	Action *url.URL
	Values url.Values
}

// Find returns the first form of body, a page at base, whose action
// contains action, with its hidden fields and then extra (which replaces a
// hidden field of the same name).
func Find(base *url.URL, body, action string, extra url.Values) (Form, error) {
	for _, m := range formRE.FindAllStringSubmatch(body, -1) {
		act := html.UnescapeString(m[1])
		if !strings.Contains(act, action) {
			continue
		}
		v := url.Values{}
		for _, in := range inputRE.FindAllStringSubmatch(m[2], -1) {
			v.Set(html.UnescapeString(in[1]), html.UnescapeString(in[2]))
		}
		for k, vs := range extra {
			v[k] = vs
		}
		target, err := base.Parse(act)
		if err != nil {
			return Form{}, fmt.Errorf("form action %q: %w", act, err)
		}
		return Form{Action: target, Values: v}, nil
	}
	return Form{}, fmt.Errorf("no form with action %q on %s", action, base)
}
