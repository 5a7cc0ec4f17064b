package portal

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/idp/csrf"
	"github.com/spid-idp/spid-idp/idp/password"
	"github.com/spid-idp/spid-idp/keys"
	"github.com/spid-idp/spid-idp/lifecycle"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/storage/memory"
	"github.com/spid-idp/spid-idp/storage/sqlite"
	"github.com/spid-idp/spid-idp/templates"
)

const base = "http://127.0.0.1:9"

var (
	keyOnce sync.Once
	spPair  keys.Pair
)

type env struct {
	p   *Portal
	st  storage.Store
	eph storage.Ephemeral
	mux *http.ServeMux
	now time.Time
	mu  sync.Mutex
}

func (e *env) clock() time.Time { e.mu.Lock(); defer e.mu.Unlock(); return e.now }
func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	e.now = e.now.Add(d)
	e.mu.Unlock()
}

func newEnv(t *testing.T) *env {
	t.Helper()
	keyOnce.Do(func() {
		var err error
		spPair, err = keys.Generate(keys.GenerateOptions{Profile: keys.ProfileSPPublic, Bits: 2048, CommonName: Name, Locality: "Roma",
			OrganizationIdentifier: "PA:IT-portal", OrganizationName: "IdP", EntityID: base + Prefix})
		if err != nil {
			t.Fatal(err)
		}
	})
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	eph := memory.New()
	t.Cleanup(func() { eph.Close() })
	pages, err := templates.New()
	if err != nil {
		t.Fatal(err)
	}
	e := &env{st: st, eph: eph, mux: http.NewServeMux(), now: time.Now()}
	al := &audit.Logger{Store: st}
	e.p, err = New(Options{BaseURL: base, IdPSSO: base + "/sso/redirect", Pair: spPair, IdPCerts: []*x509.Certificate{spPair.Cert},
		Store: st, Eph: eph, Lifecycle: &lifecycle.Service{Store: st, Audit: al}, Audit: al, Pages: pages,
		Argon2: password.Params{Time: 1, MemoryKiB: 19456, Threads: 1, SaltLen: 16, KeyLen: 32}, CSRFKey: make([]byte, 32), Now: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	e.p.Register(e.mux)
	return e
}

func (e *env) citizen(t *testing.T, id, name string) {
	t.Helper()
	now := time.Now().UTC()
	if err := e.st.CreateIdentity(context.Background(), storage.Identity{ID: id, Username: id + "@example.org", Type: storage.IdentityCitizen,
		Status: storage.IdentityActive, Attributes: map[string]string{"name": name, "familyName": "Test", "spidCode": "TEST" + id}, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
}

// login opens a session for identityID as the ACS would, and returns its cookie.
func (e *env) login(t *testing.T, identityID string) *http.Cookie {
	t.Helper()
	now := e.clock()
	s := session{ID: newID(), IdentityID: identityID, Level: 2, Created: now, LastSeen: now}
	val, _ := json.Marshal(s)
	if err := e.eph.CreateValue(context.Background(), sessionKey(s.ID), val, now.Add(maxSession)); err != nil {
		t.Fatal(err)
	}
	return &http.Cookie{Name: sessionCookie, Value: s.ID}
}

func (e *env) do(method, path string, c *http.Cookie, form url.Values) *httptest.ResponseRecorder {
	var r *http.Request
	if form != nil {
		r = httptest.NewRequest(method, base+path, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		r = httptest.NewRequest(method, base+path, nil)
	}
	if c != nil {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	e.mux.ServeHTTP(w, r)
	return w
}

func (e *env) token(c *http.Cookie) string { return csrf.Token(e.p.o.CSRFKey, c.Value) }

// A session ends after IdleTimeout without requests; changes need a
// level-2 login within recentAuth, otherwise the citizen logs in again.
func TestSessionIdleAndFreshness(t *testing.T) {
	e := newEnv(t)
	e.citizen(t, "a1", "Anna")
	c := e.login(t, "a1")
	if w := e.do("GET", PathHome, c, nil); !strings.Contains(w.Body.String(), "Anna Test") {
		t.Fatalf("home with session: %d", w.Code)
	}
	e.advance(IdleTimeout + time.Second)
	if w := e.do("GET", PathHome, c, nil); strings.Contains(w.Body.String(), "Anna Test") || !strings.Contains(w.Body.String(), PathLogin) {
		t.Fatal("an idle session still worked")
	}

	c = e.login(t, "a1")
	e.advance(4 * time.Minute)
	if w := e.do("GET", PathHome, c, nil); !strings.Contains(w.Body.String(), "Anna Test") {
		t.Fatal("session lost within the idle timeout")
	}
	e.advance(2 * time.Minute) // 6 minutes after the login
	w := e.do("POST", PathSuspend, c, url.Values{"csrf_token": {e.token(c)}, "confirm": {"yes"}})
	if w.Code != http.StatusSeeOther || !strings.Contains(w.Header().Get("Location"), "done=reauth") {
		t.Fatalf("stale authentication: %d %s", w.Code, w.Header().Get("Location"))
	}
	if l, err := e.p.o.Lifecycle.Get(context.Background(), "a1"); err != nil || l.State != storage.IdentityActive {
		t.Fatalf("state %v %v", l.State, err)
	}
	if w := e.do("GET", PathHome, c, nil); strings.Contains(w.Body.String(), "Anna Test") {
		t.Fatal("the session survived the re-authentication request")
	}
}

// The session's identity is the only subject: a form naming another, or
// with a token of another session, is refused and audited.
func TestFormsActOnlyOnTheSessionIdentity(t *testing.T) {
	e := newEnv(t)
	e.citizen(t, "a1", "Anna")
	e.citizen(t, "b2", "Bruno")
	ca, cb := e.login(t, "a1"), e.login(t, "b2")
	for name, form := range map[string]url.Values{
		"other identity":        {"csrf_token": {e.token(ca)}, "confirm": {"yes"}, "identity": {"b2"}},
		"two identities":        {"csrf_token": {e.token(ca)}, "confirm": {"yes"}, "identity": {"a1", "b2"}},
		"other session's token": {"csrf_token": {e.token(cb)}, "confirm": {"yes"}},
		"no token":              {"confirm": {"yes"}},
	} {
		if w := e.do("POST", PathSuspend, ca, form); w.Code != http.StatusForbidden {
			t.Errorf("%s: %d", name, w.Code)
		}
	}
	for _, id := range []string{"a1", "b2"} {
		if l, err := e.p.o.Lifecycle.Get(context.Background(), id); err != nil || l.State != storage.IdentityActive {
			t.Errorf("%s: state %v %v", id, l.State, err)
		}
	}
	evs, _ := e.st.ListAudit(context.Background(), 0, 100)
	denied := 0
	for _, ev := range evs {
		if ev.Action == "portal.form" && ev.Outcome == audit.Denied && ev.Actor == "a1" {
			denied++
		}
	}
	if denied != 4 {
		t.Errorf("%d denied forms audited, want 4", denied)
	}
	// The holder's own suspension goes through.
	w := e.do("POST", PathSuspend, ca, url.Values{"csrf_token": {e.token(ca)}, "confirm": {"yes"}, "identity": {"a1"}})
	if w.Code != http.StatusSeeOther || !strings.Contains(w.Header().Get("Location"), "done=suspended") {
		t.Fatalf("own suspension: %d %s\n%s", w.Code, w.Header().Get("Location"), w.Body)
	}
	if l, _ := e.p.o.Lifecycle.Get(context.Background(), "a1"); l.State != storage.IdentitySuspended {
		t.Fatalf("state %v", l.State)
	}
}

func TestHistoryFiltersOrdersAndPages(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	al := &audit.Logger{Store: e.st}
	for i := range 45 {
		actor := "a1"
		if i%3 == 0 {
			actor = "b2"
		}
		outcome := audit.Success
		if i%5 == 0 {
			outcome = audit.Failure
		}
		al.Record(ctx, storage.AuditEvent{Actor: actor, Action: "sso.response", Target: "sp-" + strconv.Itoa(i), Outcome: outcome,
			Details: map[string]string{"level": "2", "client_ip": "192.0.2.1"}})
		al.Record(ctx, storage.AuditEvent{Actor: actor, Action: "login", Target: actor, Outcome: audit.Success})
	}
	got, more, err := History(ctx, e.st, "a1", 0, 20)
	if err != nil || len(got) != 20 || !more {
		t.Fatalf("first page: %d %v %v", len(got), more, err)
	}
	if got[0].SP != "sp-44" || got[1].SP != "sp-43" || got[0].IP != "192.0.2.1" || got[0].Level != "2" {
		t.Errorf("not newest first: %+v", got[:2])
	}
	all, more, _ := History(ctx, e.st, "a1", 0, 1000)
	if len(all) != 30 || more {
		t.Fatalf("a1 has %d lines, want 30", len(all))
	}
	for _, a := range all {
		n, _ := strconv.Atoi(strings.TrimPrefix(a.SP, "sp-"))
		if n%3 == 0 || a.Success != (n%5 != 0) {
			t.Errorf("wrong line %+v", a)
		}
	}
	if last, more, _ := History(ctx, e.st, "a1", 20, 20); len(last) != 10 || more {
		t.Errorf("last page: %d %v", len(last), more)
	}
	if none, more, _ := History(ctx, e.st, "a1", 40, 20); len(none) != 0 || more {
		t.Errorf("beyond the end: %d %v", len(none), more)
	}
}

func TestNewRefusesIncompleteOptions(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Fatal("empty options accepted")
	}
}

func FuzzPeekInResponseTo(f *testing.F) {
	f.Add("PHNhbWxwOlJlc3BvbnNlIEluUmVzcG9uc2VUbz0iX2FiYyIvPg==")
	f.Add("")
	f.Add("////")
	f.Fuzz(func(t *testing.T, s string) {
		if v := peekInResponseTo(s); len(v) > 128 {
			t.Fatalf("over-long ID %d", len(v))
		}
	})
}

// The holder's revocation request is the first half of a four-eyes
// action; renewal outside the window is refused with the dates.
func TestRevocationRequestAndRenewalWindow(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.citizen(t, "a1", "Anna")
	if _, err := e.p.o.Lifecycle.Start(ctx, "a1", e.clock().AddDate(-1, 0, 0), e.clock().AddDate(1, 0, 0)); err != nil {
		t.Fatal(err)
	}
	c := e.login(t, "a1")
	if w := e.do("POST", PathRevoke, c, url.Values{"csrf_token": {e.token(c)}}); w.Code != http.StatusBadRequest {
		t.Fatalf("unconfirmed revocation: %d", w.Code)
	}
	w := e.do("POST", PathRevoke, c, url.Values{"csrf_token": {e.token(c)}, "confirm": {"yes"}})
	if w.Code != http.StatusSeeOther || !strings.Contains(w.Header().Get("Location"), "done=revoke") {
		t.Fatalf("revocation request: %d %s\n%s", w.Code, w.Header().Get("Location"), w.Body)
	}
	l, err := e.p.o.Lifecycle.Get(ctx, "a1")
	if err != nil || l.State != storage.IdentityActive || l.Pending == nil || l.Pending.ProposedBy != "a1" {
		t.Fatalf("after the request: %+v %v", l, err)
	}
	if w := e.do("POST", PathRenew, c, url.Values{"csrf_token": {e.token(c)}}); w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "Il rinnovo è possibile solo") {
		t.Fatalf("renewal a year early: %d\n%s", w.Code, w.Body)
	}
	if w := e.do("GET", PathHome, c, nil); strings.Contains(w.Body.String(), PathRenew) {
		t.Error("renew button offered outside the window")
	}
}

// The portal's metadata passes the registry's production checks, so the
// portal can be registered outside demo mode.
func TestMetadataPassesProductionChecks(t *testing.T) {
	e := newEnv(t)
	const prod = "https://idp.example.org"
	pair, err := keys.Generate(keys.GenerateOptions{Profile: keys.ProfileSPPublic, Bits: 2048, CommonName: Name, Locality: "Roma",
		OrganizationIdentifier: "PA:IT-portal", OrganizationName: "IdP", EntityID: prod + Prefix})
	if err != nil {
		t.Fatal(err)
	}
	o := e.p.o
	o.BaseURL, o.Pair = prod, pair
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := metadata.ParseSPMetadata(p.Metadata(), metadata.ParseOptions{Production: true}); err != nil {
		t.Fatal(err)
	}
}

func TestSLORefusesUnverifiedMessages(t *testing.T) {
	e := newEnv(t)
	for _, q := range []string{"", "?SAMLRequest=bm90", "?SAMLRequest=bm90&SigAlg=x&Signature=eA%3D%3D"} {
		if w := e.do("GET", PathSLO+q, nil, nil); w.Code != http.StatusBadRequest {
			t.Errorf("%q: %d", q, w.Code)
		}
	}
}

// Every attempt is in the access history (security.md C.10, issue 12): a
// push request the owner refused in the app ("Non sono stato io"), a wrong
// number approved, a wrong password; other people's are not.
func TestHistoryListsPushDenials(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	al := &audit.Logger{Store: e.st}
	for _, ev := range []storage.AuditEvent{
		{Actor: "a1", Action: "login.push", Target: "sp-denied", Outcome: audit.Failure,
			Details: map[string]string{"reason": "user_denied", "level": "2", "client_ip": "192.0.2.7"}},
		{Actor: "a1", Action: "login.push", Target: "sp-wrong", Outcome: audit.Failure, Details: map[string]string{"reason": "wrong_number"}},
		{Actor: "b2", Action: "login.push", Target: "sp-other", Outcome: audit.Failure, Details: map[string]string{"reason": "user_denied"}},
		{Actor: "a1", Action: "sso.response", Target: "sp-ok", Outcome: audit.Success, Details: map[string]string{"level": "1"}},
		{Actor: "a1", Action: "login.password", Target: "sp-pw", Outcome: audit.Failure, Details: map[string]string{"flow": "f"}},
	} {
		if err := al.Record(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	got, _, err := History(ctx, e.st, "a1", 0, 20)
	if err != nil || len(got) != 4 {
		t.Fatalf("history: %+v %v, want the wrong password, the login, the wrong number and the denial", got, err)
	}
	if d := got[3]; !d.Denied || d.Success || d.SP != "sp-denied" || d.IP != "192.0.2.7" || d.Level != "2" {
		t.Errorf("denial line: %+v", d)
	}
	if w := got[2]; w.Success || w.Denied || w.Reason != "wrong_number" || w.SP != "sp-wrong" {
		t.Errorf("wrong-number line: %+v", w)
	}
	if got[1].Denied || !got[1].Success {
		t.Errorf("login line: %+v", got[1])
	}
	if p := got[0]; p.Success || p.Reason != "password" || p.SP != "sp-pw" {
		t.Errorf("wrong-password line: %+v", p)
	}
}
