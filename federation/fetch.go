package federation

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Fetch limits (spec §2.3, F028).
const (
	FetchTimeout  = 10 * time.Second
	MaxFetchBytes = 256 << 10
)

// ErrUnreachable wraps every transport failure (timeout, refused address,
// HTTP error status, oversized body): the caller answers
// temporarily_unavailable or tries another authority.
var ErrUnreachable = errors.New("federation: entity unreachable")

// Fetcher gets federation documents. Outside demo and test mode it speaks
// HTTPS only, to public addresses only (SSRF), follows no redirect and
// reads at most MaxFetchBytes within FetchTimeout.
type Fetcher struct {
	// Client does the requests; nil: NewHTTPClient(AllowPrivate).
	Client *http.Client
	// AllowHTTP admits http:// entity ids (demo and test mode only).
	AllowHTTP bool
	// AllowPrivate admits loopback and private addresses (demo/test).
	AllowPrivate bool
	// Local serves URLs under LocalBase in process, without the network:
	// the demo federation lives in the IdP's own mux.
	Local     http.Handler
	LocalBase string
}

// NewHTTPClient is a client for federation fetches: no redirects, a
// timeout, and unless allowPrivate a dialer that refuses loopback,
// private, link-local and unspecified addresses after DNS resolution.
func NewHTTPClient(allowPrivate bool) *http.Client {
	d := &net.Dialer{Timeout: FetchTimeout}
	if !allowPrivate {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			ip, err := netip.ParseAddr(host)
			if err != nil {
				return err
			}
			if !publicAddr(ip) {
				return fmt.Errorf("address %s is not public", ip)
			}
			return nil
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = d.DialContext
	tr.Proxy = nil
	return &http.Client{
		Timeout:   FetchTimeout,
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

func publicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	return !(ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast())
}

// CheckURL applies the scheme rule: https, or http in demo/test mode; no
// user info, no fragment.
func (f *Fetcher) CheckURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" {
		return nil, fmt.Errorf("%q is not an absolute URL", clip(raw))
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && f.AllowHTTP:
	default:
		return nil, fmt.Errorf("%q: only https entity ids are accepted", clip(raw))
	}
	if !f.AllowPrivate {
		if ip, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]")); err == nil && !publicAddr(ip) {
			return nil, fmt.Errorf("%q: address is not public", clip(raw))
		}
		if strings.EqualFold(u.Hostname(), "localhost") {
			return nil, fmt.Errorf("%q: address is not public", clip(raw))
		}
	}
	return u, nil
}

// Get fetches raw with GET and returns the body of a 200 answer.
func (f *Fetcher) Get(ctx context.Context, raw string) ([]byte, error) {
	return f.do(ctx, http.MethodGet, raw, nil)
}

// PostForm posts form and returns the body of a 200 answer.
func (f *Fetcher) PostForm(ctx context.Context, raw string, form url.Values) ([]byte, error) {
	return f.do(ctx, http.MethodPost, raw, form)
}

func (f *Fetcher) do(ctx context.Context, method, raw string, form url.Values) ([]byte, error) {
	u, err := f.CheckURL(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	ctx, cancel := context.WithTimeout(ctx, FetchTimeout)
	defer cancel()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	var resp *http.Response
	if f.Local != nil && f.LocalBase != "" && strings.HasPrefix(u.String(), f.LocalBase+"/") {
		resp = serveLocal(f.Local, req)
	} else {
		c := f.Client
		if c == nil {
			c = NewHTTPClient(f.AllowPrivate)
		}
		resp, err = c.Do(req)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrUnreachable, clip(raw), err)
		}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxFetchBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrUnreachable, clip(raw), err)
	}
	if len(b) > MaxFetchBytes {
		return nil, fmt.Errorf("%w: %s: answer larger than %d bytes", ErrUnreachable, clip(raw), MaxFetchBytes)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &StatusError{URL: clip(raw), Status: resp.StatusCode}
	}
	return b, nil
}

// StatusError is a fetch answered with a status other than 200.
type StatusError struct {
	URL    string
	Status int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("federation: %s answered HTTP %d", e.URL, e.Status)
}

func (e *StatusError) Unwrap() error { return ErrUnreachable }

// serveLocal runs the request through the in-process handler.
func serveLocal(h http.Handler, req *http.Request) *http.Response {
	rec := httptest.NewRecorder()
	req.RequestURI = req.URL.RequestURI()
	req.RemoteAddr = "127.0.0.1:0"
	h.ServeHTTP(rec, req)
	return rec.Result()
}

// EntityConfigurationURL is where an entity publishes its configuration.
func EntityConfigurationURL(entityID string) string {
	return strings.TrimRight(entityID, "/") + WellKnownPath
}
