package app

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"html"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/demo"
	"github.com/spid-idp/spid-idp/internal/spclient"
	"github.com/spid-idp/spid-idp/keys"
	"github.com/spid-idp/spid-idp/keys/rollover"
)

var (
	samlResponseRE = regexp.MustCompile(`name="SAMLResponse" value="([^"]*)"`)
	inResponseToRE = regexp.MustCompile(`InResponseTo="([^"]*)"`)
	keyInfoCertRE  = regexp.MustCompile(`<ds:X509Certificate>([^<]*)</ds:X509Certificate>`)
)

// TestSigningKeyRollover plans a rollover the way `spid-idp keys rollover`
// does and walks the clock through it: the next certificate is published
// next to the current one, then Responses are signed with it and still
// accepted by the demo SP, then the old certificate leaves the metadata.
// Each step is in the audit log.
func TestSigningKeyRollover(t *testing.T) {
	a, ts, info := testApp(t)
	ctx := t.Context()
	old := a.Keys.Cert
	cfg := a.Config
	next, err := keys.Generate(keys.GenerateOptions{Bits: 2048, CommonName: cfg.IdP.Name, Locality: "Roma",
		OrganizationIdentifier: "VATIT-" + demoVAT[2:], OrganizationName: "SPID IdP dimostrativo",
		EntityID: cfg.IdP.EntityID, ValidFor: 365 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyFile, certFile := filepath.Join(dir, "next.key"), filepath.Join(dir, "next.crt")
	if err := keys.Save(next, keyFile, certFile); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	// The handlers read the clock on the server's goroutines.
	var clock atomic.Int64
	clock.Store(start.UnixNano())
	a.Signing.Now = func() time.Time { return time.Unix(0, clock.Load()) }
	switchAt, overlap := start.Add(48*time.Hour), 24*time.Hour

	planned, err := PlanRollover(ctx, cfg, a.Backends.Store, a.Audit, RolloverRequest{KeyFile: keyFile, CertFile: certFile,
		SwitchAt: switchAt, Overlap: overlap, Actor: "operator:test"}, start)
	if err != nil {
		t.Fatal(err)
	}
	if planned.ID != rollover.ID(next.Cert) {
		t.Fatalf("planned %s, want the next certificate", planned.ID)
	}
	// A second plan while one is pending is refused.
	if _, err := PlanRollover(ctx, cfg, a.Backends.Store, a.Audit, RolloverRequest{KeyFile: keyFile, CertFile: certFile,
		Overlap: -1, Actor: "operator:test"}, start); err == nil {
		t.Fatal("a second rollover was planned while one is pending")
	}

	step := func(name string, at time.Time, wantMeta []string, wantSigner string) {
		t.Helper()
		clock.Store(at.UnixNano())
		if err := a.Signing.Refresh(ctx); err != nil {
			t.Fatalf("%s: refresh: %v", name, err)
		}
		if got := metadataCerts(t, ts.URL); !slices.Equal(got, wantMeta) {
			t.Errorf("%s: metadata signing certificates %v, want %v", name, short(got), short(wantMeta))
		}
		b64, signer := demoLogin(t, ts.URL, info)
		if signer != wantSigner {
			t.Errorf("%s: Response signed by %s, want %s", name, short([]string{signer}), short([]string{wantSigner}))
		}
		// An SP that knows only the expected certificate accepts the Response.
		xml, _ := base64.StdEncoding.DecodeString(b64)
		m := inResponseToRE.FindSubmatch(xml)
		if m == nil {
			t.Fatalf("%s: no InResponseTo in the Response", name)
		}
		want := next.Cert
		if wantSigner == certID(old.Raw) {
			want = old
		}
		res, err := spclient.Check(b64, spclient.Expect{InResponseTo: string(m[1]), Destination: ts.URL + demo.Prefix + "/acs",
			Audience: ts.URL + demo.Prefix, IdPCerts: []*x509.Certificate{want}})
		if err != nil || !res.Success {
			t.Errorf("%s: an SP trusting only the expected certificate refused the Response: %v %+v", name, err, res)
		}
	}
	oldID, nextID := certID(old.Raw), certID(next.Cert.Raw)
	step("announced", start.Add(time.Hour), []string{oldID, nextID}, oldID)
	step("switched", switchAt.Add(time.Minute), []string{nextID, oldID}, nextID)
	step("retired", switchAt.Add(overlap+time.Minute), []string{nextID}, nextID)

	evs, err := a.Backends.Store.ListAudit(ctx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range evs {
		if strings.HasPrefix(ev.Action, "keys.rollover.") {
			got = append(got, ev.Action+" "+ev.Outcome+" "+ev.Target[:8])
		}
	}
	want := []string{rollover.ActionPlan + " success " + planned.ID[:8], rollover.ActionSwitch + " success " + planned.ID[:8],
		rollover.ActionRetire + " success " + rollover.ID(old)[:8]}
	if !slices.Equal(got, want) {
		t.Errorf("audit records %v, want %v", got, want)
	}
	// A second node refreshing after the fact records nothing twice.
	if err := a.Signing.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	evs2, _ := a.Backends.Store.ListAudit(ctx, 0, 10000)
	for _, ev := range evs2[len(evs):] {
		if strings.HasPrefix(ev.Action, "keys.rollover.") {
			t.Errorf("transition recorded twice: %s", ev.Action)
		}
	}
}

// certID is the base64 text of a DER certificate as XML carries it.
func certID(der []byte) string { return base64.StdEncoding.EncodeToString(der) }

func short(ids []string) []string {
	out := make([]string, len(ids))
	for i, s := range ids {
		raw, _ := base64.StdEncoding.DecodeString(s)
		sum := sha256.Sum256(raw)
		out[i] = fmt.Sprintf("cert sha256:%x", sum[:6])
	}
	return out
}

// metadataCerts are the signing certificates of the IdP metadata, in order.
func metadataCerts(t *testing.T, base string) []string {
	t.Helper()
	md := newBrowser(t).get(base + "/metadata")
	if md.status != 200 {
		t.Fatalf("metadata: %d", md.status)
	}
	if strings.Count(md.body, `use="signing"`) != strings.Count(md.body, "<md:KeyDescriptor") {
		t.Errorf("a KeyDescriptor is not use=\"signing\":\n%s", md.body)
	}
	var out []string
	sso := md.body[strings.Index(md.body, "<md:IDPSSODescriptor"):]
	for _, m := range keyInfoCertRE.FindAllStringSubmatch(sso, -1) {
		out = append(out, m[1])
	}
	return out
}

// demoLogin logs the demo citizen in at level 1 through the demo SP and
// returns the Response and the certificate its signature names. The demo
// SP must accept it.
func demoLogin(t *testing.T, base string, info DemoInfo) (b64, signer string) {
	t.Helper()
	br := newBrowser(t)
	home := br.get(base + "/demo-sp/")
	login := br.submit(home, "/demo-sp/login", url.Values{"level": {"1"}})
	consent := br.submit(login, "/login", url.Values{"username": {info.Username}, "password": {info.Password}, "op": {"submit"}})
	transfer := br.submit(consent, "/consent", url.Values{"op": {"accept"}})
	m := samlResponseRE.FindStringSubmatch(transfer.body)
	if m == nil {
		t.Fatalf("no SAMLResponse on the transfer page: %d\n%s", transfer.status, transfer.body)
	}
	b64 = html.UnescapeString(m[1])
	result := br.submit(transfer, "/demo-sp/acs", nil)
	if !strings.Contains(result.body, "TINIT-RSSMRA80A01H501U") {
		t.Errorf("the demo SP refused the Response:\n%s", result.body)
	}
	xml, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	c := keyInfoCertRE.FindSubmatch(xml)
	if c == nil {
		t.Fatal("the Response has no signature certificate")
	}
	return b64, string(c[1])
}
