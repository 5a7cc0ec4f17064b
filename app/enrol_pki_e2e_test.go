package app

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"html"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/config"
	"github.com/spid-idp/spid-idp/enrolment"
	"github.com/spid-idp/spid-idp/internal/testpki"
	"github.com/spid-idp/spid-idp/revocation"
)

// TestEnrolRevokedSignerRefused: a signer listed as revoked on the CRL at
// its own distribution point is refused (the CRL server is asked), the
// refusal is kept for the verifier; then a good signature uploaded as PEM
// is accepted, and the verifier's page shows the CRL's answer and the
// refused attempt.
func TestEnrolRevokedSignerRefused(t *testing.T) {
	qca := newTestCA(t, "Test Qualified CA")
	qca.pki.NoOCSP = true // the CRL alone decides, as at many QTSPs
	a, base := enrolApp(t, func(cfg *config.Config) {
		cfg.Enrolment.SignatureTrustFile = qca.pemFile(t)
		cfg.Enrolment.RequireQC = false
	})
	consoleOperators(t, a)
	p := newApplicant(t, 4)
	br := newBrowser(t)
	done := capture(t, a, base, br, p, enrolment.PathSignature)
	e, _ := requestByCode(t, a, done)
	form := []byte(br.get(base + "/enrol/form.pdf").body)

	revoked, rk := qca.leaf(t, p.cf, x509.KeyUsageContentCommitment)
	qca.pki.Revoke(revoked, time.Now().Add(-time.Hour))
	hits := qca.pki.CRLHits()
	res := br.postMultipart(done, "/enrol/signed", nil, map[string][2]string{"signed": {"richiesta.pdf.p7m", string(signP7M(t, form, revoked, rk, qca.cert))}})
	if res.status != http.StatusUnprocessableEntity || !strings.Contains(res.body, "revocato") {
		t.Fatalf("revoked signer: %d\n%s", res.status, res.body)
	}
	if qca.pki.CRLHits() == hits {
		t.Fatal("the CRL distribution point received no request")
	}
	if !auditHas(t, a, "enrolment.signature", e.ID, "sig.revoked") {
		t.Error("no audit record for the revoked signer")
	}
	if after, r := requestByCode(t, a, done); after.State != e.State || len(r.Attempts) != 1 || r.Attempts[0].Code != "sig.revoked" {
		t.Fatalf("after the refusal: %s %+v", after.State, r.Attempts)
	}

	good, gk := qca.leaf(t, p.cf, x509.KeyUsageContentCommitment)
	armoured := pem.EncodeToMemory(&pem.Block{Type: "PKCS7", Bytes: signP7M(t, form, good, gk, qca.cert)})
	ok := br.postMultipart(done, "/enrol/signed", nil, map[string][2]string{"signed": {"richiesta.pdf.p7m", string(armoured)}})
	if ok.status != 200 || ok.url.Path != "/enrol/done" {
		t.Fatalf("good signature as PEM: %d %s\n%s", ok.status, ok.url, ok.body)
	}
	e, r := requestByCode(t, a, done)
	if e.State != string(enrolment.StateAwaitingProcessing) || r.Recognition == nil || !r.Recognition.Checklist["certificate_not_revoked"] ||
		len(r.Recognition.Revocation) != 1 || r.Recognition.Revocation[0].Method != revocation.MethodCRL {
		t.Fatalf("after recognition: %s %+v", e.State, r.Recognition)
	}

	vera := newBrowser(t)
	consoleLogin(a, vera, base, "vera")
	page := vera.get(base + "/console/requests/" + e.ID)
	for _, want := range []string{`id="revocation"`, "CRL " + qca.pki.CRLURL, `id="attempts"`, "revocato", "sig.revoked"} {
		if !strings.Contains(html.UnescapeString(page.body), want) {
			t.Errorf("console page lacks %q:\n%s", want, grepLines(page.body, "<li>"))
		}
	}
}

// TestEnrolRevokedCardRefused: on the CNS listener a card revoked on its
// CRL is refused (the CRL server is asked), so is another person's card;
// both are shown to the verifier; after cns_max_attempts refusals the card
// path is closed for the request, even to the right card.
func TestEnrolRevokedCardRefused(t *testing.T) {
	cardCA := newTestCA(t, "Test CNS CA")
	cardCA.pki.NoOCSP = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a, base := enrolApp(t, func(cfg *config.Config) {
		cfg.Enrolment.CNSListen = ln.Addr().String()
		cfg.Enrolment.CNSCAFile = cardCA.pemFile(t)
		cfg.Enrolment.CNSMaxAttempts = 3
		cfg.Enrolment.CNSPublicURL = "https://" + ln.Addr().String()
	})
	consoleOperators(t, a)
	cardClient := startCNS(t, a, ln)
	card := func(cf string, revoke bool) *http.Client {
		c, k := cardCA.leaf(t, cf, x509.KeyUsageDigitalSignature, x509.ExtKeyUsageClientAuth)
		if revoke {
			cardCA.pki.Revoke(c, time.Now().Add(-time.Hour))
		}
		return cardClient(c, k)
	}
	linkOf := func(done page) string {
		m := regexp.MustCompile(`href="(https://[^"]*/enrol/cns\?t=[^"]+)"`).FindStringSubmatch(done.body)
		if m == nil {
			t.Fatalf("no CNS link on the done page:\n%s", done.body)
		}
		if !strings.HasPrefix(m[1], a.Config.Enrolment.CNSPublicURL+"/") {
			t.Fatalf("CNS link %s not at the configured public URL", m[1])
		}
		return html.UnescapeString(m[1])
	}
	get := func(c *http.Client, link string) (int, string) {
		res, err := c.Get(link)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}

	p := newApplicant(t, 5)
	done := capture(t, a, base, newBrowser(t), p, enrolment.PathCNS)
	e, _ := requestByCode(t, a, done)
	link := linkOf(done)
	hits := cardCA.pki.CRLHits()
	if st, body := get(card(p.cf, true), link); st != http.StatusForbidden || !strings.Contains(body, "revocato") {
		t.Fatalf("revoked card: %d\n%s", st, body)
	}
	if cardCA.pki.CRLHits() == hits {
		t.Fatal("the CRL distribution point received no request")
	}
	if !auditHas(t, a, "enrolment.cns", e.ID, "cns.revoked") {
		t.Error("no audit record for the revoked card")
	}
	other := newApplicant(t, 6)
	if st, _ := get(card(other.cf, false), link); st != http.StatusForbidden {
		t.Fatalf("another person's card: %d", st)
	}
	if st, body := get(card(p.cf, false), link); st != 200 {
		t.Fatalf("own card: %d\n%s", st, body)
	}
	e, r := requestByCode(t, a, done)
	if e.State != string(enrolment.StateAwaitingProcessing) || len(r.Attempts) != 2 || !r.Recognition.Checklist["certificate_not_revoked"] {
		t.Fatalf("after the own card: %s %+v %+v", e.State, r.Attempts, r.Recognition)
	}
	vera := newBrowser(t)
	consoleLogin(a, vera, base, "vera")
	page := html.UnescapeString(vera.get(base + "/console/requests/" + e.ID).body)
	for _, want := range []string{`id="attempts"`, "cns.revoked", "cns.fiscal_code_mismatch", `id="revocation"`, "non revocato"} {
		if !strings.Contains(page, want) {
			t.Errorf("console page lacks %q:\n%s", want, grepLines(page, "<li>"))
		}
	}

	// A second request: three refused cards close the card path.
	q := newApplicant(t, 7)
	done = capture(t, a, base, newBrowser(t), q, enrolment.PathCNS)
	link = linkOf(done)
	for i := 0; i < 3; i++ {
		if st, _ := get(card(other.cf, false), link); st != http.StatusForbidden {
			t.Fatalf("refused card %d: %d", i+1, st)
		}
	}
	st, body := get(card(q.cf, false), link)
	if st != http.StatusTooManyRequests || !strings.Contains(body, "Troppi tentativi") {
		t.Fatalf("after the limit: %d\n%s", st, body)
	}
	e, r = requestByCode(t, a, done)
	if e.State != string(enrolment.StateAwaitingRecognition) || len(r.Attempts) != 3 || !auditHas(t, a, "enrolment.cns", e.ID, "cns.too_many_attempts") {
		t.Fatalf("after the limit: %s, %d attempts", e.State, len(r.Attempts))
	}
}

// TestEnrolSigningTimeNeedsTimestamp: a signer certificate that expired
// before the upload, with a claimed signingTime before expiry, is refused
// with its own message; the same signature with an RFC 3161 time-stamp by
// a configured TSA is accepted.
func TestEnrolSigningTimeNeedsTimestamp(t *testing.T) {
	qca := newTestCA(t, "Test Qualified CA")
	tsaCA := testpki.New(t, testpki.Options{Name: "Test TSA CA"})
	tsaCert, tsaKey := tsaCA.TSA("Test TSA")
	a, base := enrolApp(t, func(cfg *config.Config) {
		cfg.Enrolment.SignatureTrustFile = qca.pemFile(t)
		cfg.Enrolment.TSATrustFile = tsaCA.PEMFile()
		cfg.Enrolment.RequireQC = false
	})
	p := newApplicant(t, 8)
	br := newBrowser(t)
	done := capture(t, a, base, br, p, enrolment.PathSignature)
	form := []byte(br.get(base + "/enrol/form.pdf").body)

	// Valid for a few seconds: signed now, uploaded after it expired.
	cert, key := qca.pki.Issue(&x509.Certificate{Subject: pkix.Name{CommonName: "BIANCHI GIULIA", SerialNumber: "TINIT-" + p.cf, Country: []string{"IT"}},
		NotBefore: time.Now().AddDate(0, -1, 0), NotAfter: time.Now().Add(3 * time.Second), KeyUsage: x509.KeyUsageContentCommitment})
	signedAt := time.Now()
	chain := []*x509.Certificate{qca.cert}
	plain := testpki.SignCAdES(t, form, cert, key, testpki.CAdES{Chain: chain})
	stamped := testpki.SignCAdES(t, form, cert, key, testpki.CAdES{Chain: chain,
		Token: func(sig []byte) []byte { return testpki.Stamp(t, tsaCert, tsaKey, sig, signedAt) }})
	time.Sleep(time.Until(cert.NotAfter) + 1500*time.Millisecond)

	res := br.postMultipart(done, "/enrol/signed", nil, map[string][2]string{"signed": {"richiesta.pdf.p7m", string(plain)}})
	if res.status != http.StatusUnprocessableEntity || !strings.Contains(html.UnescapeString(res.body), "marca temporale") {
		t.Fatalf("expired at upload, no time-stamp: %d\n%s", res.status, res.body)
	}
	e, _ := requestByCode(t, a, done)
	if !auditHas(t, a, "enrolment.signature", e.ID, "sig.expired_at_upload") {
		t.Error("no audit record for the expired certificate")
	}
	ok := br.postMultipart(done, "/enrol/signed", nil, map[string][2]string{"signed": {"richiesta.pdf.p7m", string(stamped)}})
	if ok.status != 200 || ok.url.Path != "/enrol/done" {
		t.Fatalf("time-stamped: %d %s\n%s", ok.status, ok.url, ok.body)
	}
	e, r := requestByCode(t, a, done)
	if e.State != string(enrolment.StateAwaitingProcessing) || r.Recognition == nil || len(r.Recognition.Revocation) != 2 {
		t.Fatalf("after the time-stamped upload: %s %+v", e.State, r.Recognition)
	}
}

// TestEnrolSignatureAttemptsLimited: refused signed files count per
// request like refused cards; after enrolment.signature_max_attempts the
// upload is refused (429) even for a good file, the refusal is audited,
// and the verifier's page lists every refused file.
func TestEnrolSignatureAttemptsLimited(t *testing.T) {
	qca := newTestCA(t, "Test Qualified CA")
	qca.pki.NoOCSP = true
	a, base := enrolApp(t, func(cfg *config.Config) {
		cfg.Enrolment.SignatureTrustFile = qca.pemFile(t)
		cfg.Enrolment.RequireQC = false
		cfg.Enrolment.SignatureMaxAttempts = 2
	})
	consoleOperators(t, a)
	p := newApplicant(t, 5)
	br := newBrowser(t)
	done := capture(t, a, base, br, p, enrolment.PathSignature)
	e, _ := requestByCode(t, a, done)
	form := []byte(br.get(base + "/enrol/form.pdf").body)

	// Two refusals: a file that is no signature, and a signature over
	// something else than the issued form.
	other, ok := qca.leaf(t, p.cf, x509.KeyUsageContentCommitment)
	for i, file := range []string{"not a signature at all", string(signP7M(t, []byte("another document"), other, ok, qca.cert))} {
		res := br.postMultipart(done, "/enrol/signed", nil, map[string][2]string{"signed": {"richiesta.pdf.p7m", file}})
		if res.status != http.StatusUnprocessableEntity {
			t.Fatalf("refusal %d: %d\n%s", i+1, res.status, res.body)
		}
	}
	good, gk := qca.leaf(t, p.cf, x509.KeyUsageContentCommitment)
	res := br.postMultipart(done, "/enrol/signed", nil, map[string][2]string{"signed": {"richiesta.pdf.p7m", string(signP7M(t, form, good, gk, qca.cert))}})
	if res.status != http.StatusTooManyRequests || !strings.Contains(html.UnescapeString(res.body), "Troppi file firmati non accettati") {
		t.Fatalf("a good file after the limit: %d\n%s", res.status, res.body)
	}
	after, r := requestByCode(t, a, done)
	if after.State != e.State || len(r.Attempts) != 2 {
		t.Fatalf("after the limit: %s, %d attempts", after.State, len(r.Attempts))
	}
	if !auditHas(t, a, "enrolment.signature", e.ID, "sig.too_many_attempts") {
		t.Error("the refusal at the limit is not audited")
	}

	vera := newBrowser(t)
	consoleLogin(a, vera, base, "vera")
	page := html.UnescapeString(vera.get(base + "/console/requests/" + e.ID).body)
	for _, want := range []string{`id="attempts"`, r.Attempts[0].Code, r.Attempts[1].Code} {
		if !strings.Contains(page, want) {
			t.Errorf("console page lacks %q:\n%s", want, grepLines(page, "<li>"))
		}
	}
}
