package conformance

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pquerna/otp/totp"
)

// Fields names the login-page inputs and buttons the form driver looks for.
type Fields struct {
	User     string // identifier input name (default "username")
	Password string // password input name (default "password")
	OTP      string // one-time code input name (default "otp")
	// Accept, Refuse, Cancel and Method (second-factor choice) select
	// buttons as "name" or "name=value"; empty means: recognise them by
	// common Italian/English labels.
	Accept, Refuse, Cancel, Method string
	// Offline is the consent page's checkbox opting in to a long
	// revocable session (OIDC offline_access; default "offline").
	Offline string
}

func (f *Fields) defaults() {
	f.User = or(f.User, "username")
	f.Password = or(f.Password, "password")
	f.OTP = or(f.OTP, "otp")
	f.Offline = or(f.Offline, "offline")
}

// Credentials of the test identity.
type Credentials struct {
	User, Password string
	TOTPSecret     string // base32 seed; empty when the identity has no TOTP
	// OTPCode, if set, supplies the one-time code instead of TOTPSecret
	// (e.g. a test whose IdP runs on a fake clock, or an SMS gateway stub).
	OTPCode func(ctx context.Context) (string, error)
}

// consentChoice is what the driver does on the pages it meets.
type consentChoice int

const (
	choiceAccept  consentChoice = iota
	choiceRefuse                // "deny" on the consent page → nr22
	choiceCancel                // "cancel" on the login page → nr25
	choiceNoLogin               // stop (kind "login") if credentials are asked
	choiceOffline               // consent, ticking the long-session opt-in (OIDC O035)
)

// outcome is where a browser flow ended.
type outcome struct {
	Kind       string // "form" (auto-POST to the SP), "redirect" (to the SP), "page" (IdP page), "login" (stopped at credentials)
	Status     int
	URL        string
	Body       []byte
	Form       *htmlForm
	SawLogin   bool
	SawOTP     bool
	SawConsent bool
	// OfflineOffered: the consent page had the long-session opt-in.
	OfflineOffered bool
	Consent        []byte // the consent page, when one was shown
	// Attribute Authority pages (spec §9.3), met only when the request
	// names AAs: the choice page with its offered AA ids, and the consent.
	SawAAChoice  bool
	AAOffered    []string
	AAChoicePage []byte
	// AAChoiceCSP is the choice page's Content-Security-Policy (A017).
	AAChoiceCSP  string
	SawAAConsent bool
	pageCSP      string // of the page being answered
	Received     time.Time
	Trace        []string
}

func (o *outcome) trace(format string, args ...any) {
	o.Trace = append(o.Trace, fmt.Sprintf(format, args...))
}

// value returns a field of the final form (or of the redirect query).
func (o *outcome) value(name string) string {
	if o.Form != nil {
		return o.Form.value(name)
	}
	if u, err := url.Parse(o.URL); err == nil {
		return u.Query().Get(name)
	}
	return ""
}

// browser is a cookie-keeping HTTP client that never follows a redirect to
// the simulated SPs (what reaches them is captured instead).
type browser struct {
	client  *http.Client
	spBase  string
	fields  Fields
	creds   Credentials
	otp     *otpClock
	timeout time.Duration
	// aa is what to do on the Attribute Authority pages (nil: pick none).
	aa *aaAnswer
}

// aaAnswer is the simulated user's choice on the AA pages.
type aaAnswer struct {
	pick   []string // AA ids to tick when offered
	refuse bool     // refuse the AA consent
}

// otpClock hands out each TOTP time step once: IdPs refuse a replayed code.
type otpClock struct {
	mu    sync.Mutex
	last  int64
	reuse bool
}

func (c *otpClock) code(ctx context.Context, secret string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		now := time.Now()
		step := now.Unix() / 30
		if step != c.last || c.reuse {
			c.last = step
			return totp.GenerateCode(secret, now)
		}
		wait := time.Until(time.Unix((step+1)*30, 0)) + 50*time.Millisecond
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(wait):
		}
	}
}

func newBrowser(base *http.Client, spBase string, f Fields, creds Credentials, otp *otpClock, timeout time.Duration) *browser {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: timeout}
	if base != nil {
		c.Transport = base.Transport
	}
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), spBase) {
			return http.ErrUseLastResponse
		}
		if len(via) >= 10 {
			return errors.New("more than 10 redirects")
		}
		return nil
	}
	return &browser{client: c, spBase: spBase, fields: f, creds: creds, otp: otp, timeout: timeout}
}

const maxPage = 2 << 20

// do performs a request and reads a bounded body.
func (b *browser) do(ctx context.Context, method, target string, form url.Values) (*http.Response, []byte, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", method, target, err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	req.Header.Set("Accept-Language", "it,en")
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", method, target, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxPage))
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", target, err)
	}
	return resp, data, nil
}

// send delivers msg as a browser would and follows the IdP's pages until the
// flow reaches the SP, stops on an IdP page, or choice says to stop.
func (b *browser) send(ctx context.Context, msg *outMsg, choice consentChoice) (*outcome, error) {
	if msg.Binding == bindingPOST {
		return b.follow(ctx, http.MethodPost, msg.URL, msg.Form, choice)
	}
	return b.follow(ctx, http.MethodGet, msg.URL, nil, choice)
}

func (b *browser) follow(ctx context.Context, method, target string, form url.Values, choice consentChoice) (*outcome, error) {
	out := &outcome{}
	for step := 0; step < 12; step++ {
		sctx, cancel := context.WithTimeout(ctx, b.timeout)
		resp, body, err := b.do(sctx, method, target, form)
		cancel()
		if err != nil {
			out.trace("%s %s: %v", method, target, err)
			return out, err
		}
		out.Status, out.URL, out.Body, out.Received = resp.StatusCode, resp.Request.URL.String(), body, time.Now()
		out.trace("%s %s → %d", method, resp.Request.URL, resp.StatusCode)
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			loc, err := resp.Location()
			if err != nil {
				return out, fmt.Errorf("redirect without Location from %s", resp.Request.URL)
			}
			out.Kind, out.URL = "redirect", loc.String()
			return out, nil
		}
		page := parseHTML(body, resp.Request.URL)
		out.pageCSP = resp.Header.Get("Content-Security-Policy")
		// An error status ends the flow unless the page lets the user go
		// on: IdPs re-show the login form with 401 after a wrong password.
		if resp.StatusCode >= 400 && page.formWith(b.fields.Password) == nil && page.formWith(b.fields.OTP) == nil {
			out.Kind = "page"
			return out, nil
		}
		next, err := b.nextStep(ctx, page, out, choice)
		if err != nil {
			var pe *PageError
			if errors.As(err, &pe) {
				pe.URL = resp.Request.URL.String()
				return out, pe
			}
			return out, fmt.Errorf("page %s: %w", resp.Request.URL, err)
		}
		if next == nil {
			return out, nil
		}
		method, target, form = next.method, next.target, next.form
	}
	return out, fmt.Errorf("more than 12 pages without reaching the SP (last %s)", out.URL)
}

type request struct {
	method, target string
	form           url.Values
}

var (
	reAccept = regexp.MustCompile(`(?i)(acconsent|autorizz|consent|accept|agree|allow|approv|confirm|conferm|prosegui|continu|invia|send|yes|^s[iì]$|^ok$)`)
	reRefuse = regexp.MustCompile(`(?i)(non acconsent|non autorizz|nego|deny|refuse|reject|decline|rifiut|do not|don't|dissent|^no$)`)
	// reAAAuthorise is the button giving the AA consent.
	reAAAuthorise = regexp.MustCompile(`(?i)(authori[sz]|autorizz|acconsent|consent|allow)`)
	reCancel      = regexp.MustCompile(`(?i)(annull|cancel|abort|interromp)`)
	// reTOTPMethod recognises the "use the app" choice on a second-factor page.
	reTOTPMethod = regexp.MustCompile(`(?i)(\bapp\b|totp|authenticator)`)
)

// nextStep decides what the browser does on page; nil means the flow ended
// (out.Kind tells how).
func (b *browser) nextStep(ctx context.Context, page *htmlPage, out *outcome, choice consentChoice) (*request, error) {
	f := b.fields
	if fm := page.formWith("SAMLResponse"); fm != nil {
		out.Kind, out.Form = "form", fm
		return nil, nil
	}
	if fm := page.formWith("SAMLRequest"); fm != nil {
		out.Kind, out.Form = "form", fm
		return nil, nil
	}
	// An OpenID Connect form_post response: a form towards the simulated
	// relying party, read instead of submitted.
	for _, fm := range page.forms {
		if b.spBase != "" && strings.HasPrefix(fm.Action, b.spBase+"/") {
			out.Kind, out.Form = "form", fm
			return nil, nil
		}
	}
	if login := page.formWith(f.Password); login != nil {
		out.SawLogin = true
		switch choice {
		case choiceNoLogin:
			out.Kind = "login"
			return nil, nil
		case choiceCancel:
			return page.press(f.Cancel, reCancel, nil, "cancel")
		}
		if login.input(f.User) == nil {
			return nil, fmt.Errorf("login form has a %q field but no %q field", f.Password, f.User)
		}
		vals := login.values()
		vals.Set(f.User, b.creds.User)
		vals.Set(f.Password, b.creds.Password)
		return login.submit(vals, "", reCancel)
	}
	if otpForm := page.formWith(f.OTP); otpForm != nil {
		out.SawOTP = true
		if choice == choiceCancel {
			return page.press(f.Cancel, reCancel, nil, "cancel")
		}
		var code string
		var err error
		switch {
		case b.creds.OTPCode != nil:
			code, err = b.creds.OTPCode(ctx)
		case b.creds.TOTPSecret != "":
			code, err = b.otp.code(ctx, b.creds.TOTPSecret)
		default:
			return nil, errors.New("the IdP asks for a one-time code but no TOTP secret was given")
		}
		if err != nil {
			return nil, fmt.Errorf("TOTP: %w", err)
		}
		vals := otpForm.values()
		vals.Set(f.OTP, code)
		return otpForm.submit(vals, "", reCancel)
	}
	// The AA choice (spec §9.3): checkboxes name="aa", one per AA offered.
	if fm := aaChoiceForm(page); fm != nil {
		out.SawAAChoice, out.AAChoicePage, out.AAChoiceCSP = true, page.raw, out.pageCSP
		vals := fm.values()
		for _, in := range fm.Inputs {
			if in.Name != "aa" || in.Type != "checkbox" {
				continue
			}
			out.AAOffered = append(out.AAOffered, in.Value)
			if b.aa != nil && slices.Contains(b.aa.pick, in.Value) {
				vals.Add("aa", in.Value)
			}
		}
		return fm.submit(vals, "", reRefuse)
	}
	if out.SawAAChoice && !out.SawAAConsent && page.hasButton("", reRefuse) && page.hasButton("", reAAAuthorise) {
		out.SawAAConsent = true
		if b.aa != nil && b.aa.refuse {
			return page.press("", reRefuse, nil, "refuse the AA consent")
		}
		return page.press("", reAAAuthorise, reRefuse, "authorise the AA")
	}
	if page.hasButton(f.Refuse, reRefuse) && page.hasButton(f.Accept, reAccept) {
		out.SawConsent = true
		out.Consent = page.raw
		opt := page.checkbox(f.Offline)
		out.OfflineOffered = opt != nil
		switch choice {
		case choiceRefuse:
			return page.press(f.Refuse, reRefuse, nil, "refuse consent")
		case choiceCancel:
			if page.hasButton(f.Cancel, reCancel) {
				return page.press(f.Cancel, reCancel, nil, "cancel")
			}
			return page.press(f.Refuse, reRefuse, nil, "refuse consent")
		case choiceOffline:
			if opt != nil {
				return page.pressWith(f.Accept, reAccept, reRefuse, "give consent", url.Values{opt.Name: {or(opt.Value, "on")}})
			}
		}
		return page.press(f.Accept, reAccept, reRefuse, "give consent")
	}
	// Interstitial: one form, hidden fields only, submitted by script.
	if len(page.forms) == 1 && page.forms[0].onlyHidden() {
		fm := page.forms[0]
		return &request{method: fm.Method, target: fm.Action, form: fm.values()}, nil
	}
	// Second-factor choice page: pick the authenticator app (TOTP).
	if page.hasButton(f.Method, reTOTPMethod) && choice != choiceCancel {
		return page.press(f.Method, reTOTPMethod, nil, "choose the TOTP method")
	}
	if page.hasButton(f.Accept, reAccept) && choice != choiceCancel {
		out.SawConsent = true
		return page.press(f.Accept, reAccept, reRefuse, "continue")
	}
	out.Kind = "page"
	if len(page.forms) == 0 {
		return nil, nil // a page without forms: an IdP message page
	}
	return nil, &PageError{URL: "", Msg: fmt.Sprintf("cannot recognise the page: no SAML form, no %q/%q/%q field and no consent buttons (forms: %s)",
		f.User, f.Password, f.OTP, page.describe())}
}

// PageError is an IdP page the form driver cannot handle: the run cannot
// log in, so Main stops with exit status 2 naming the page.
type PageError struct {
	URL string
	Msg string
}

func (e *PageError) Error() string {
	if e.URL == "" {
		return e.Msg
	}
	return "page " + e.URL + ": " + e.Msg
}

// htmlPage is the little the driver needs from an HTML page.
type htmlPage struct {
	forms []*htmlForm
	links []htmlLink
	raw   []byte
}

type htmlForm struct {
	Action, Method string
	Inputs         []htmlInput
	Buttons        []htmlInput
}

type htmlInput struct {
	Type, Name, Value, Text string
}

type htmlLink struct {
	Href, Text string
}

func (f *htmlForm) input(name string) *htmlInput {
	for i := range f.Inputs {
		if f.Inputs[i].Name == name {
			return &f.Inputs[i]
		}
	}
	return nil
}

func (f *htmlForm) value(name string) string {
	if in := f.input(name); in != nil {
		return in.Value
	}
	return ""
}

// values collects what the browser would submit (without any button).
func (f *htmlForm) values() url.Values {
	v := url.Values{}
	for _, in := range f.Inputs {
		if in.Name == "" {
			continue
		}
		switch in.Type {
		case "checkbox", "radio":
			continue // unchecked by default; the driver never ticks them
		}
		v.Add(in.Name, in.Value)
	}
	return v
}

func (f *htmlForm) onlyHidden() bool {
	for _, in := range f.Inputs {
		if in.Type != "hidden" {
			return false
		}
	}
	return len(f.Inputs) > 0
}

// submit posts vals with the form's primary button: the configured one, or
// the first submit button that does not look like avoid.
func (f *htmlForm) submit(vals url.Values, want string, avoid *regexp.Regexp) (*request, error) {
	for _, bt := range f.Buttons {
		if want != "" && !buttonIs(bt, want) {
			continue
		}
		if want == "" && avoid != nil && avoid.MatchString(bt.label()) {
			continue
		}
		if bt.Name != "" {
			vals.Set(bt.Name, bt.Value)
		}
		break
	}
	return &request{method: f.Method, target: f.Action, form: vals}, nil
}

func (in htmlInput) label() string {
	return strings.TrimSpace(strings.Join([]string{in.Value, in.Text, in.Name}, " "))
}

// buttonIs matches a "name" or "name=value" selector.
func buttonIs(bt htmlInput, sel string) bool {
	name, value, hasValue := strings.Cut(sel, "=")
	return bt.Name == name && (!hasValue || bt.Value == value)
}

func matches(bt htmlInput, sel string, re *regexp.Regexp) bool {
	if sel != "" {
		return buttonIs(bt, sel)
	}
	for _, s := range []string{bt.Value, bt.Text, bt.Name} {
		if s = strings.TrimSpace(s); s != "" && re.MatchString(s) {
			return true
		}
	}
	return false
}

// aaChoiceForm is the form with AA checkboxes (name "aa"), if any.
func aaChoiceForm(p *htmlPage) *htmlForm {
	for _, f := range p.forms {
		for _, in := range f.Inputs {
			if in.Name == "aa" && in.Type == "checkbox" {
				return f
			}
		}
	}
	return nil
}

func (p *htmlPage) formWith(name string) *htmlForm {
	for _, f := range p.forms {
		if f.input(name) != nil {
			return f
		}
	}
	return nil
}

func (p *htmlPage) hasButton(sel string, re *regexp.Regexp) bool {
	for _, f := range p.forms {
		for _, bt := range f.Buttons {
			if matches(bt, sel, re) {
				return true
			}
		}
	}
	return false
}

// press submits the form holding the button matching sel/re (and not
// notRe), or follows a matching link.
func (p *htmlPage) press(sel string, re, notRe *regexp.Regexp, what string) (*request, error) {
	return p.pressWith(sel, re, notRe, what, nil)
}

// pressWith is press with extra fields set in the submitted form (a ticked
// checkbox).
func (p *htmlPage) pressWith(sel string, re, notRe *regexp.Regexp, what string, extra url.Values) (*request, error) {
	for _, f := range p.forms {
		for _, bt := range f.Buttons {
			if !matches(bt, sel, re) || (sel == "" && notRe != nil && notRe.MatchString(bt.label())) {
				continue
			}
			vals := f.values()
			if bt.Name != "" {
				vals.Set(bt.Name, bt.Value)
			}
			if f.hasCheckboxes(extra) {
				for k, v := range extra {
					vals[k] = v
				}
			}
			return &request{method: f.Method, target: f.Action, form: vals}, nil
		}
	}
	if sel == "" {
		for _, l := range p.links {
			if re.MatchString(strings.TrimSpace(l.Text)) {
				return &request{method: http.MethodGet, target: l.Href}, nil
			}
		}
	}
	return nil, fmt.Errorf("no button to %s (forms: %s)", what, p.describe())
}

// checkbox is the checkbox named name on the page, if any.
func (p *htmlPage) checkbox(name string) *htmlInput {
	for _, f := range p.forms {
		if in := f.input(name); in != nil && in.Type == "checkbox" {
			return in
		}
	}
	return nil
}

// hasCheckboxes: the form holds every checkbox of extra, so ticking them
// belongs with its button.
func (f *htmlForm) hasCheckboxes(extra url.Values) bool {
	for k := range extra {
		if in := f.input(k); in == nil || in.Type != "checkbox" {
			return false
		}
	}
	return true
}

func (p *htmlPage) describe() string {
	var parts []string
	for _, f := range p.forms {
		var names []string
		for _, in := range f.Inputs {
			names = append(names, in.Type+":"+in.Name)
		}
		for _, bt := range f.Buttons {
			names = append(names, "button:"+bt.label())
		}
		parts = append(parts, fmt.Sprintf("%s %s [%s]", f.Method, f.Action, strings.Join(names, ", ")))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "; ")
}

var reStrip = regexp.MustCompile(`(?is)<script\b.*?</script\s*>|<style\b.*?</style\s*>|<!--.*?-->|<!doctype[^>]*>`)

// parseHTML extracts forms and links with encoding/xml in its lenient HTML
// mode (no x/net/html in this module); scripts and comments are removed
// first because their text would derail the tokenizer.
func parseHTML(body []byte, base *url.URL) *htmlPage {
	p := &htmlPage{raw: body}
	d := xml.NewDecoder(bytes.NewReader(reStrip.ReplaceAll(body, nil)))
	d.Strict = false
	d.AutoClose = xml.HTMLAutoClose
	d.Entity = xml.HTMLEntity
	var cur *htmlForm
	var btn *htmlInput
	var link *htmlLink
	var text strings.Builder
	resolve := func(ref string) string {
		u, err := base.Parse(strings.TrimSpace(ref))
		if err != nil {
			return base.String()
		}
		return u.String()
	}
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		switch t := tok.(type) {
		case xml.StartElement:
			a := func(n string) string {
				for _, at := range t.Attr {
					if strings.EqualFold(at.Name.Local, n) {
						return at.Value
					}
				}
				return ""
			}
			switch strings.ToLower(t.Name.Local) {
			case "form":
				m := strings.ToUpper(or(a("method"), "GET"))
				cur = &htmlForm{Action: resolve(a("action")), Method: m}
				p.forms = append(p.forms, cur)
			case "input":
				if cur == nil {
					continue
				}
				in := htmlInput{Type: strings.ToLower(or(a("type"), "text")), Name: a("name"), Value: a("value")}
				if in.Type == "submit" || in.Type == "image" {
					cur.Buttons = append(cur.Buttons, in)
				} else {
					cur.Inputs = append(cur.Inputs, in)
				}
			case "textarea":
				if cur != nil {
					cur.Inputs = append(cur.Inputs, htmlInput{Type: "textarea", Name: a("name")})
				}
			case "button":
				if cur != nil && strings.ToLower(or(a("type"), "submit")) == "submit" {
					btn = &htmlInput{Type: "submit", Name: a("name"), Value: a("value")}
					text.Reset()
				}
			case "a":
				if h := a("href"); h != "" && !strings.HasPrefix(h, "#") && !strings.HasPrefix(strings.ToLower(h), "javascript:") {
					link = &htmlLink{Href: resolve(h)}
					text.Reset()
				}
			}
		case xml.CharData:
			if btn != nil || link != nil {
				text.Write(t)
			}
		case xml.EndElement:
			switch strings.ToLower(t.Name.Local) {
			case "form":
				cur = nil
			case "button":
				if btn != nil && cur != nil {
					btn.Text = strings.Join(strings.Fields(text.String()), " ")
					cur.Buttons = append(cur.Buttons, *btn)
				}
				btn = nil
			case "a":
				if link != nil {
					link.Text = strings.Join(strings.Fields(text.String()), " ")
					p.links = append(p.links, *link)
				}
				link = nil
			}
		}
	}
	return p
}
