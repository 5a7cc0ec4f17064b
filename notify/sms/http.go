package sms

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/template"
	"time"
)

// DefaultTimeout bounds one gateway call when HTTPGateway.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// HTTPGateway posts each message as JSON to an SMS provider's API. The body
// comes from BodyTemplate (text/template) whose fields .To and .Text are
// already JSON-string-escaped, to be placed inside quotes:
//
//	{"to": "{{.To}}", "text": "{{.Text}}", "sender": "SPID"}
//
// Any 2xx status means sent. Build it with NewHTTPGateway so a bad
// configuration fails at start-up; a struct literal works too and is
// checked on every Send.
type HTTPGateway struct {
	URL          string
	Header       string // name of the auth header; "Authorization" when Token is set and Header empty
	Token        string // its value, sent as is (e.g. "Bearer …"); a secret
	BodyTemplate string
	Client       *http.Client  // nil: a client that does not follow redirects
	Timeout      time.Duration // per message; zero: DefaultTimeout

	tmpl *template.Template // set by NewHTTPGateway
}

// NewHTTPGateway checks cfg (URL, header name, template producing valid
// JSON) and returns a gateway ready to send.
func NewHTTPGateway(cfg HTTPGateway) (*HTTPGateway, error) {
	t, err := cfg.compile()
	if err != nil {
		return nil, err
	}
	cfg.tmpl = t
	return &cfg, nil
}

// compile validates the configuration and parses the template.
func (g *HTTPGateway) compile() (*template.Template, error) {
	u, err := url.Parse(g.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("sms gateway: URL must be an absolute http(s) URL")
	}
	if g.Header != "" && !validHeaderName(g.Header) {
		return nil, fmt.Errorf("sms gateway: invalid header name %q", g.Header)
	}
	if strings.ContainsAny(g.Token, "\r\n") {
		return nil, errors.New("sms gateway: token contains a line break")
	}
	if g.Timeout < 0 {
		return nil, errors.New("sms gateway: negative timeout")
	}
	if strings.TrimSpace(g.BodyTemplate) == "" {
		return nil, errors.New("sms gateway: empty body template")
	}
	t, err := template.New("sms").Option("missingkey=error").Parse(g.BodyTemplate)
	if err != nil {
		return nil, fmt.Errorf("sms gateway: body template: %w", err)
	}
	// Render a sample holding every character that needs escaping, so a
	// template that puts a field outside quotes fails now, not at 3 a.m.
	if _, err := body(t, Message{To: "+39000", Text: "a \"b\"\n\\c</d>"}); err != nil {
		return nil, err
	}
	return t, nil
}

// body renders the JSON for m.
func body(t *template.Template, m Message) ([]byte, error) {
	var buf bytes.Buffer
	err := t.Execute(&buf, struct{ To, Text string }{jsonString(m.To), jsonString(m.Text)})
	if err != nil {
		return nil, fmt.Errorf("sms gateway: body template: %w", err)
	}
	if !json.Valid(buf.Bytes()) {
		return nil, errors.New("sms gateway: body template does not produce valid JSON (put {{.To}} and {{.Text}} inside quotes)")
	}
	return buf.Bytes(), nil
}

// jsonString is s escaped for use between the quotes of a JSON string.
func jsonString(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b[1 : len(b)-1])
}

// Send posts m; a non-2xx answer is an error naming the status only: the
// body may echo the message, which holds a code.
func (g *HTTPGateway) Send(ctx context.Context, m Message) error {
	if err := m.check(); err != nil {
		return err
	}
	t := g.tmpl
	if t == nil {
		var err error
		if t, err = g.compile(); err != nil {
			return err
		}
	}
	payload, err := body(t, m)
	if err != nil {
		return err
	}
	timeout := g.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.URL, bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("sms gateway: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if g.Token != "" {
		name := g.Header
		if name == "" {
			name = "Authorization"
		}
		req.Header.Set(name, g.Token)
	}
	client := g.Client
	if client == nil {
		client = defaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		// *url.Error repeats the URL, which may carry an API key.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("sms gateway: post to %s: %w", req.URL.Host, err)
	}
	defer resp.Body.Close()
	// Drain a little so the connection can be reused; never read it out.
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("sms gateway: %s answered %s", req.URL.Host, resp.Status)
	}
	return nil
}

// defaultClient does not follow redirects: a POST turned into a GET would
// look sent, and the token must not travel elsewhere.
var defaultClient = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func validHeaderName(s string) bool {
	for _, c := range []byte(s) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
		if !ok {
			return false
		}
	}
	return s != ""
}
