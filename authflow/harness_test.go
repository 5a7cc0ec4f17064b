package authflow

// The flow's test harness: a real Engine (SQLite store, in-memory
// ephemeral store, the real pages) on a loopback server, driven by a test
// front end that plays a protocol's part without any protocol: a flow
// starts at pathTestStart, and the relying party's answer is a form whose
// hidden fields tell the outcome. The browser keeps cookies and stops at
// the first hop leaving the server.

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/spid-idp/spid-idp/internal/flowtest"
	"github.com/spid-idp/spid-idp/internal/testbrowser"

	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
)

// testRP is a relying party of the test front end.
type testRP struct {
	EntityID string
	SP       *metadata.SP
}

type harness struct {
	*flowtest.Env
	t    testing.TB
	Flow *Engine
	FE   *testFrontEnd
	A, B *testRP

	mu  sync.Mutex
	mux *http.ServeMux
}

const (
	spAEntity = "https://sp-a.example.it"
	spBEntity = "https://sp-b.example.it"
)

func newHarness(t testing.TB) *harness {
	t.Helper()
	h := &harness{Env: flowtest.New(t), t: t}
	h.Srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		mux := h.mux
		h.mu.Unlock()
		mux.ServeHTTP(w, r)
	})
	h.A = newTestRP(spAEntity, "Servizio A")
	h.B = newTestRP(spBEntity, "Servizio B")
	h.FE = &testFrontEnd{rps: map[string]*testRP{h.A.EntityID: h.A, h.B.EntityID: h.B}}
	h.rebuild(Options{
		BaseURL: h.Base, Store: h.Store, Eph: h.Eph, Pages: h.Pages, Audit: h.Audit(), Log: flowtest.DiscardLog(),
		Regulator: h.Regulator(), Argon2: flowtest.FastArgon2, CookieKeys: [][]byte{h.CookieKey}, Now: h.Clock.Now,
	})
	h.Start(t)
	return h
}

// rebuild serves a new Engine made from o, with the test front end.
func (h *harness) rebuild(o Options) {
	h.t.Helper()
	f, err := New(o)
	if err != nil {
		h.t.Fatal(err)
	}
	f.Attach(testProto, h.FE)
	h.FE.flow = f
	mux := http.NewServeMux()
	f.Register(mux)
	mux.HandleFunc("GET "+pathTestStart, h.FE.start)
	h.mu.Lock()
	h.Flow, h.mux = f, mux
	h.mu.Unlock()
}

func newTestRP(entityID, name string) *testRP {
	as := metadata.AttributeService{Index: 0, IsDefault: true, ServiceName: map[string]string{"it": name},
		Attributes: []metadata.RequestedAttribute{{Name: "name"}, {Name: "familyName"}, {Name: "fiscalNumber"}}}
	return &testRP{EntityID: entityID, SP: &metadata.SP{EntityID: entityID, DisplayName: map[string]string{"it": name},
		AttributeServices: []metadata.AttributeService{as}}}
}

// ---- the test front end ----

// pathTestStart starts a flow: ?rp=ENTITY&level=N[&force=1].
const pathTestStart = "/test/start"

// testProto names the test front end's flows and session entries.
const testProto = "test"

// testFrontEnd is a FrontEnd with no protocol: its answers are forms to
// RP/answer whose hidden fields say what a relying party would learn.
type testFrontEnd struct {
	flow *Engine
	rps  map[string]*testRP

	mu    sync.Mutex
	ended []string // participants told of an ended session, "session|rp"
}

func (fe *testFrontEnd) SessionEnded(_ context.Context, sess storage.Session, parts []storage.SessionParticipant) {
	fe.mu.Lock()
	defer fe.mu.Unlock()
	for _, p := range parts {
		fe.ended = append(fe.ended, sess.ID+"|"+p.SPEntityID)
	}
}

func (fe *testFrontEnd) start(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	rp, ok := fe.rps[q.Get("rp")]
	level, err := strconv.Atoi(q.Get("level"))
	if !ok || err != nil {
		http.Error(w, "bad test request", http.StatusBadRequest)
		return
	}
	f, err := fe.flow.NewState(w, r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	zero := 0
	f.Proto = testProto
	f.SP, f.RequestID, f.RequestIssueInstant = rp.EntityID, "_req"+RandomHex(8), f.Created
	f.ACS, f.AttrIndex, f.Level, f.Comparison, f.ForceAuthn = rp.EntityID+"/answer", &zero, level, "exact", q.Get("force") == "1"
	fe.flow.Begin(w, r, rp.SP, f)
}

func (fe *testFrontEnd) RelyingParty(_ context.Context, f *State) (*metadata.SP, error) {
	rp, ok := fe.rps[f.SP]
	if !ok {
		return nil, fmt.Errorf("test RP %s: %w", f.SP, storage.ErrNotFound)
	}
	return rp.SP, nil
}

func (fe *testFrontEnd) Refuse(w http.ResponseWriter, r *http.Request, rp *metadata.SP, f *State, code spid.Anomaly, _ string) {
	writeAnswer(w, f.ACS, url.Values{"outcome": {"ErrorCode " + code.String()}})
}

func (fe *testFrontEnd) RefusalForm(_ context.Context, rp *metadata.SP, f *State, code spid.Anomaly) (string, []templates.Field, error) {
	return f.ACS, []templates.Field{{Name: "outcome", Value: "ErrorCode " + code.String()}}, nil
}

// Answer joins (or opens) the SSO session at level 1, as a protocol front
// end must, and tells the identity and level.
func (fe *testFrontEnd) Answer(w http.ResponseWriter, r *http.Request, rp *metadata.SP, f *State, id storage.Identity) {
	v := url.Values{"outcome": {"ok"}, "identity": {id.ID}, "classref": {spid.Level(f.Performed).ClassRef()}}
	if f.JoinsSession() {
		index, _, err := fe.flow.JoinSession(w, r, f, rp.EntityID, "nid-"+RandomHex(8), "")
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		v.Set("session_index", index)
	}
	fe.flow.Authenticated(r.Context(), id.ID)
	writeAnswer(w, f.ACS, v)
}

func writeAnswer(w http.ResponseWriter, action string, v url.Values) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	var b strings.Builder
	b.WriteString(`<form method="post" action="` + html.EscapeString(action) + `">`)
	for k := range v {
		b.WriteString(`<input type="hidden" name="` + html.EscapeString(k) + `" value="` + html.EscapeString(v.Get(k)) + `">`)
	}
	b.WriteString(`</form>`)
	io.WriteString(w, b.String())
}

// ---- browser ----

type browser struct {
	*testbrowser.Browser
	t testing.TB
	h *harness
}

// page is what the browser ended on (testbrowser.Page).
type page = testbrowser.Page

func (h *harness) browser() *browser {
	return &browser{Browser: testbrowser.New(h.t, h.Base), t: h.t, h: h}
}

// start opens a flow of rp at level through the test front end.
func (b *browser) start(rp *testRP, level int) page {
	b.t.Helper()
	return b.Get(b.h.Base + pathTestStart + "?" + url.Values{"rp": {rp.EntityID}, "level": {strconv.Itoa(level)}}.Encode())
}

// login signs in at rp with SpidL<level>: credentials when the browser
// has no reusable session, then consent. It returns what the RP received.
func (b *browser) login(rp *testRP, level int) outcome {
	b.t.Helper()
	p := b.start(rp, level)
	if strings.Contains(p.Body, `name="password"`) {
		p = b.Submit(p, PathLogin, url.Values{templates.FieldUsername: {b.h.Username}, templates.FieldPassword: {b.h.Password},
			templates.FieldOp: {templates.OpSubmit}})
	}
	o := b.accept(p, rp)
	if !o.OK {
		b.t.Fatalf("login at %s: %+v", rp.EntityID, o)
	}
	return o
}

// outcome is what a relying party got back: a level on success, an
// anomaly otherwise.
type outcome struct {
	OK            bool
	Identity      string
	ClassRef      string
	StatusMessage string
	SessionIndex  string
}

// rpOutcome reads the test front end's answer on p.
func (b *browser) rpOutcome(p page, rp *testRP) outcome {
	b.t.Helper()
	_, v := b.Form(p, rp.EntityID)
	o := outcome{OK: v.Get("outcome") == "ok", Identity: v.Get("identity"), ClassRef: v.Get("classref"), SessionIndex: v.Get("session_index")}
	if !o.OK {
		o.StatusMessage = v.Get("outcome")
	}
	if o.StatusMessage == "" && !o.OK {
		b.t.Fatalf("no answer for %s on the page (status %d):\n%s", rp.EntityID, p.Status, p.Body)
	}
	return o
}

// accept presses "Acconsento" and returns the RP's outcome.
func (b *browser) accept(p page, rp *testRP) outcome {
	b.t.Helper()
	return b.rpOutcome(b.Submit(p, PathConsent, url.Values{templates.FieldOp: {templates.OpAccept}}), rp)
}
