package app

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/conformance"
)

// This file proves that the OIDC part of the conformance suite can fail:
// each defect below breaks one thing our OP sends (a redirect, a token
// response, a userinfo answer, the entity configuration), by a middleware
// in front of the untouched OP. The suite runs only the cases meant to
// catch it and must report a failure of the expected checklist item with
// the expected reason. A control run through the same middleware, which
// then changes nothing, must pass.

// oidcDefect is one injected fault of the OP.
type oidcDefect struct {
	name      string
	only      []string // suite cases (or IDs) to run
	wantID    string   // checklist item that must fail
	wantCheck string   // text its reason must contain
	// path selects the responses to change: a path below the issuer
	// ("/token", "/authorization", …); the whole exchange is recorded
	// and handed to change.
	path string
	// anyPath hands every response to change (the code leaves from the
	// IdP's consent page, outside the issuer's path).
	anyPath bool
	change  func(r *http.Request, rec *httptest.ResponseRecorder) []byte
	// intercept, instead of path/change, answers the request itself
	// (nil: pass it on).
	intercept func(w http.ResponseWriter, r *http.Request) bool
}

// oidcTamper holds the defect being injected.
type oidcTamper struct {
	cur  atomic.Pointer[oidcDefect]
	hits atomic.Int64
}

func (tp *oidcTamper) wrap(a *App, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := tp.cur.Load()
		prefix := issuerPath(a)
		if d == nil || (!d.anyPath && !strings.HasPrefix(r.URL.Path, prefix)) {
			next.ServeHTTP(w, r)
			return
		}
		if d.intercept != nil {
			if d.intercept(w, r) {
				tp.hits.Add(1)
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		if d.change == nil || (!d.anyPath && r.URL.Path != prefix+d.path) {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		out := rec.Body.Bytes()
		if nb := d.change(r, rec); nb != nil {
			out = nb
			tp.hits.Add(1)
		}
		for k, v := range rec.Header() {
			if k != "Content-Length" {
				w.Header()[k] = v
			}
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(out)
	})
}

func issuerPath(a *App) string {
	u, _ := url.Parse(a.Config.OIDC.Issuer)
	return u.Path
}

// rewriteQuery changes the query of a redirect's Location.
func rewriteQuery(rec *httptest.ResponseRecorder, f func(q url.Values) bool) []byte {
	loc, err := url.Parse(rec.Header().Get("Location"))
	if err != nil || rec.Header().Get("Location") == "" {
		return nil
	}
	q := loc.Query()
	if !f(q) {
		return nil
	}
	loc.RawQuery = q.Encode()
	rec.Header().Set("Location", loc.String())
	return body(rec)
}

// body is the recorded body as a non-nil slice: a changed response may
// have none (a redirect answering a POST).
func body(rec *httptest.ResponseRecorder) []byte { return append([]byte{}, rec.Body.Bytes()...) }

// rewriteJSON changes a JSON object body.
func rewriteJSON(rec *httptest.ResponseRecorder, f func(m map[string]any) bool) []byte {
	var m map[string]any
	if json.Unmarshal(rec.Body.Bytes(), &m) != nil || !f(m) {
		return nil
	}
	b, _ := json.Marshal(m)
	return b
}

// swapJSON is a change that turns a JSON answer's key from one value to
// another; any other answer passes untouched.
func swapJSON(key string, from, to any) func(*http.Request, *httptest.ResponseRecorder) []byte {
	return func(_ *http.Request, rec *httptest.ResponseRecorder) []byte {
		return rewriteJSON(rec, func(m map[string]any) bool {
			if m[key] != from {
				return false
			}
			m[key] = to
			return true
		})
	}
}

// swapQuery is a change that turns a redirect's query parameter key from
// one value to another; any other answer passes untouched.
func swapQuery(key, from, to string) func(*http.Request, *httptest.ResponseRecorder) []byte {
	return func(_ *http.Request, rec *httptest.ResponseRecorder) []byte {
		return rewriteQuery(rec, func(q url.Values) bool {
			if q.Get(key) != from {
				return false
			}
			q.Set(key, to)
			return true
		})
	}
}

func oidcDefects() []oidcDefect {
	return []oidcDefect{
		{name: "paraphrased token error description", only: []string{"oidc-token-no-client-id"}, wantID: "O053", wantCheck: "error_description",
			path: "/token", change: func(r *http.Request, rec *httptest.ResponseRecorder) []byte {
				return rewriteJSON(rec, func(m map[string]any) bool {
					m["error_description"] = "Richiesta non valida."
					return m["error"] != nil
				})
			}},
		{name: "invalid_client answered as invalid_request", only: []string{"oidc-token-assertion-expired"}, wantID: "O046", wantCheck: "want 400 invalid_client",
			path: "/token", change: swapJSON("error", "invalid_client", "invalid_request")},
		// Attribute Authority grants (A038): an inactive grant reported
		// active, i.e. another RP learns about a grant it did not receive.
		{name: "grant token active for every caller", only: []string{"oidc-aa"}, wantID: "A038", wantCheck: "another RP's introspection",
			path: "/introspection", change: swapJSON("active", false, true)},
		{name: "token response without Pragma", only: []string{"oidc-login-l1"}, wantID: "O054", wantCheck: "Pragma",
			path: "/token", change: func(r *http.Request, rec *httptest.ResponseRecorder) []byte {
				if rec.Code != 200 {
					return nil
				}
				rec.Header().Del("Pragma")
				return body(rec)
			}},
		{name: "expires_in 1800", only: []string{"oidc-login-l1"}, wantID: "O055", wantCheck: "expires_in",
			path: "/token", change: func(r *http.Request, rec *httptest.ResponseRecorder) []byte {
				return rewriteJSON(rec, func(m map[string]any) bool { m["expires_in"] = 1800; return m["access_token"] != nil })
			}},
		{name: "ID token swapped for the access token", only: []string{"oidc-login-l1"}, wantID: "O059", wantCheck: "at_hash",
			path: "/token", change: func(r *http.Request, rec *httptest.ResponseRecorder) []byte {
				return rewriteJSON(rec, func(m map[string]any) bool { m["id_token"] = m["access_token"]; return m["access_token"] != nil })
			}},
		{name: "authorization code not a UUID", only: []string{"oidc-login-l1"}, wantID: "O027", wantCheck: "UUID",
			anyPath: true, change: func(r *http.Request, rec *httptest.ResponseRecorder) []byte {
				return rewriteQuery(rec, func(q url.Values) bool {
					if q.Get("code") == "" {
						return false
					}
					q.Set("code", strings.ReplaceAll(q.Get("code"), "-", ""))
					return true
				})
			}},
		{name: "redirect error with another code", only: []string{"oidc-authz-no-nonce"}, wantID: "O018", wantCheck: "want invalid_request",
			path: "/authorization", change: swapQuery("error", "invalid_request", "invalid_request_object")},
		{name: "redirect error without state", only: []string{"oidc-authz-short-nonce"}, wantID: "O026", wantCheck: "state",
			path: "/authorization", change: func(r *http.Request, rec *httptest.ResponseRecorder) []byte {
				return rewriteQuery(rec, func(q url.Values) bool {
					if q.Get("error") == "" {
						return false
					}
					q.Del("state")
					return true
				})
			}},
		{name: "redirect error without iss", only: []string{"oidc-authz-no-prompt"}, wantID: "O026", wantCheck: "iss",
			path: "/authorization", change: func(r *http.Request, rec *httptest.ResponseRecorder) []byte {
				return rewriteQuery(rec, func(q url.Values) bool {
					if q.Get("error") == "" {
						return false
					}
					q.Del("iss")
					return true
				})
			}},
		{name: "missing request object answered to the RP", only: []string{"oidc-authz-no-request"}, wantID: "O002", wantCheck: "instead of showing an error page",
			intercept: func(w http.ResponseWriter, r *http.Request) bool {
				if !strings.HasSuffix(r.URL.Path, "/authorization") || r.URL.Query().Get("request") != "" || r.URL.Query().Get("client_id") == "" {
					return false
				}
				http.Redirect(w, r, r.URL.Query().Get("client_id")+"/callback?error=invalid_request", http.StatusFound)
				return true
			}},
		{name: "token endpoint answers GET with 400", only: []string{"oidc-token-get"}, wantID: "O037", wantCheck: "want 405",
			path: "/token", change: func(r *http.Request, rec *httptest.ResponseRecorder) []byte {
				if r.Method != http.MethodGet {
					return nil
				}
				rec.Code = 400
				return body(rec)
			}},
		{name: "userinfo as application/jose", only: []string{"oidc-login-l1"}, wantID: "O074", wantCheck: "Content-Type",
			path: "/userinfo", change: func(r *http.Request, rec *httptest.ResponseRecorder) []byte {
				if rec.Code != 200 {
					return nil
				}
				rec.Header().Set("Content-Type", "application/jose")
				return body(rec)
			}},
		{name: "userinfo sent as the bare inner JWS", only: []string{"oidc-login-l1"}, wantID: "O074", wantCheck: "not a compact JWE",
			path: "/userinfo", change: func(r *http.Request, rec *httptest.ResponseRecorder) []byte {
				if rec.Code != 200 {
					return nil
				}
				return []byte("eyJhbGciOiJSUzI1NiJ9.e30.c2ln")
			}},
		{name: "revoked access token still opens userinfo", only: []string{"oidc-login-l1"}, wantID: "O036", wantCheck: "still opens userinfo",
			path: "/userinfo", change: func(r *http.Request, rec *httptest.ResponseRecorder) []byte {
				if rec.Code != 401 || r.Header.Get("Authorization") == "" {
					return nil
				}
				rec.Code = 200
				rec.Header().Set("Content-Type", "application/jwt")
				return []byte("a.b.c.d.e")
			}},
		{name: "entity configuration with a charset", only: []string{"oidc-entity-configuration"}, wantID: "F001", wantCheck: "Content-Type",
			path: "/.well-known/openid-federation", change: func(r *http.Request, rec *httptest.ResponseRecorder) []byte {
				rec.Header().Set("Content-Type", "application/entity-statement+jwt; charset=utf-8")
				return body(rec)
			}},
	}
}

// TestConformanceOIDCCatchesInjectedDefects runs the OIDC cases against an
// OP broken one way at a time: each defect must fail its checklist item.
func TestConformanceOIDCCatchesInjectedDefects(t *testing.T) {
	if testing.Short() {
		t.Skip("one suite run per defect")
	}
	tp := &oidcTamper{}
	a, ts, info := startApp(t, appOpts{Wrap: tp.wrap, Configure: shortGrants})
	defects := append(oidcDefects(), oidcAADefects(t, a)...)
	keyDir := t.TempDir() // the simulator's keys, made once for every run
	run := func(t *testing.T, only []string) *conformance.Report {
		t.Helper()
		opt := oidcSuiteOptions(t, a, ts, info, only...)
		opt.KeyDir = keyDir
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		rep, err := conformance.RunOIDC(ctx, opt)
		if err != nil && rep == nil {
			t.Fatalf("the suite could not run: %v", err)
		}
		return rep
	}

	// Control: the middleware in place, no defect: every case used below
	// passes.
	var all []string
	for _, d := range defects {
		all = append(all, d.only...)
	}
	tp.cur.Store(&oidcDefect{name: "control"})
	rep := run(t, all)
	for _, r := range rep.Rows {
		if r.Status != conformance.Pass && !knownOIDCDefect(r) {
			t.Fatalf("control run: %s %s %s: %s", r.ID, r.Case, r.Status, r.Reason)
		}
	}

	for _, d := range defects {
		d := d
		t.Run(d.name, func(t *testing.T) {
			tp.hits.Store(0)
			tp.cur.Store(&d)
			defer tp.cur.Store(nil)
			rep := run(t, d.only)
			if tp.hits.Load() == 0 {
				for _, r := range rep.Rows {
					t.Logf("%s %s %s: %s", r.ID, r.Case, r.Status, r.Reason)
				}
				t.Fatalf("the defect was never injected: the table is wrong")
			}
			var got []string
			for _, r := range rep.Rows {
				if r.ID == d.wantID && r.Status == conformance.Fail && strings.Contains(r.Reason, d.wantCheck) {
					return
				}
				if r.Status != conformance.Pass {
					got = append(got, r.ID+" "+string(r.Status)+": "+r.Reason)
				}
			}
			t.Errorf("want %s to fail with %q; non-passing rows:\n%s", d.wantID, d.wantCheck, strings.Join(got, "\n"))
		})
	}
}
