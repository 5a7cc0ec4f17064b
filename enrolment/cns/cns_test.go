package cns

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/internal/testpki"
	"github.com/spid-idp/spid-idp/revocation"
)

// now is the fixed clock of the tests.
var now = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

type ca struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

var serial int64 = 1000

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func issue(t testing.TB, tmpl *x509.Certificate, parent *ca, key *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	serial++
	tmpl.SerialNumber = big.NewInt(serial)
	signer, parentCert := key, tmpl
	if parent != nil {
		signer, parentCert = parent.key, parent.cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newCA(t testing.TB, name string, parent *ca) *ca {
	t.Helper()
	k := newKey(t)
	c := issue(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: name, Organization: []string{"Test CNS"}, Country: []string{"IT"}},
		NotBefore:             now.AddDate(-5, 0, 0),
		NotAfter:              now.AddDate(10, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, parent, k)
	return &ca{cert: c, key: k}
}

type leafOpts struct {
	serialNumber string
	cn           string
	notBefore    time.Time
	notAfter     time.Time
	ku           x509.KeyUsage
	eku          []x509.ExtKeyUsage
}

func newLeaf(t testing.TB, issuer *ca, o leafOpts) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	if o.notBefore.IsZero() {
		o.notBefore = now.AddDate(-1, 0, 0)
	}
	if o.notAfter.IsZero() {
		o.notAfter = now.AddDate(5, 0, 0)
	}
	if o.ku == 0 && o.eku == nil {
		o.ku = x509.KeyUsageDigitalSignature
		o.eku = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	if o.cn == "" {
		o.cn = "Mario Rossi"
	}
	k := newKey(t)
	c := issue(t, &x509.Certificate{
		Subject:     pkix.Name{CommonName: o.cn, SerialNumber: o.serialNumber, Country: []string{"IT"}},
		NotBefore:   o.notBefore,
		NotAfter:    o.notAfter,
		KeyUsage:    o.ku,
		ExtKeyUsage: o.eku,
	}, issuer, k)
	return c, k
}

type pki struct {
	root, inter, other *ca
	v                  *Verifier
}

func newPKI(t testing.TB) *pki {
	root := newCA(t, "Test CNS Root", nil)
	inter := newCA(t, "Test CNS Issuing CA", root)
	other := newCA(t, "Somebody Else Root", nil)
	roots := x509.NewCertPool()
	roots.AddCert(root.cert)
	return &pki{root: root, inter: inter, other: other,
		v: &Verifier{Roots: roots, Now: func() time.Time { return now }}}
}

const cf = "RSSMRA80A01H501U"

// E028: the three placements of the fiscal code are each read correctly.
func TestE028FiscalCodePlacements(t *testing.T) {
	p := newPKI(t)
	cases := []struct {
		name string
		o    leafOpts
	}{
		{"serialNumber TINIT-", leafOpts{serialNumber: "TINIT-" + cf}},
		{"serialNumber IT:", leafOpts{serialNumber: "IT:" + cf}},
		{"serialNumber lower-case prefix", leafOpts{serialNumber: "tinit-" + strings.ToLower(cf)}},
		{"CN <CF>/", leafOpts{cn: cf + "/7420012345678901.abcdefghABCDEFGH="}},
		{"omocode", leafOpts{serialNumber: "TINIT-RSSMRA80A01H50MM"}},
		{"serialNumber and CN agree", leafOpts{serialNumber: "TINIT-" + cf, cn: cf + "/123"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			leaf, _ := newLeaf(t, p.inter, tc.o)
			r, err := p.v.Verify(context.Background(), []*x509.Certificate{leaf, p.inter.cert})
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want := cf
			if tc.name == "omocode" {
				want = "RSSMRA80A01H50MM"
			}
			if r.FiscalCode != want {
				t.Fatalf("FiscalCode = %q, want %q", r.FiscalCode, want)
			}
			if len(r.Chain) != 3 || !r.Chain[2].Equal(p.root.cert) {
				t.Fatalf("chain has %d certificates, want leaf, intermediate, root", len(r.Chain))
			}
			if r.Serial != strings.ToUpper(leaf.SerialNumber.Text(16)) || r.Issuer != p.inter.cert.Subject.String() || r.Subject != leaf.Subject.String() {
				t.Fatalf("result fields: %+v", r)
			}
			if err := Match(r, " "+strings.ToLower(want)+" "); err != nil {
				t.Fatalf("Match with the same code: %v", err)
			}
		})
	}
}

// E028: a certificate whose CF differs from the request's is refused.
func TestE028Mismatch(t *testing.T) {
	p := newPKI(t)
	leaf, _ := newLeaf(t, p.inter, leafOpts{serialNumber: "TINIT-" + cf})
	r, err := p.v.Verify(context.Background(), []*x509.Certificate{leaf, p.inter.cert})
	if err != nil {
		t.Fatal(err)
	}
	err = Match(r, "RSSMRA80A41H501Y")
	if !errors.Is(err, ErrMismatch) {
		t.Fatalf("Match = %v, want ErrMismatch", err)
	}
	if strings.Contains(err.Error(), cf) || !strings.Contains(err.Error(), "501U") {
		t.Fatalf("mismatch message should name only the code endings: %v", err)
	}
	if !errors.Is(Match(r, ""), ErrMismatch) {
		t.Fatal("an empty request CF must not match")
	}
}

func TestRefusals(t *testing.T) {
	p := newPKI(t)
	good := leafOpts{serialNumber: "TINIT-" + cf}
	withDates := func(nb, na time.Time) leafOpts { o := good; o.notBefore, o.notAfter = nb, na; return o }
	cases := []struct {
		name   string
		issuer *ca
		o      leafOpts
		want   *Error
	}{
		// E026
		{"E026 unknown CA", p.other, good, ErrUnknownCA},
		// E027
		{"E027 expired", p.inter, withDates(now.AddDate(-3, 0, 0), now.Add(-time.Second)), ErrExpired},
		{"E027 not yet valid", p.inter, withDates(now.Add(time.Hour), now.AddDate(3, 0, 0)), ErrNotYetValid},
		{"no CF", p.inter, leafOpts{cn: "Mario Rossi"}, ErrNoFiscalCode},
		{"CN with a name before the slash", p.inter, leafOpts{cn: "Mario Rossi/12345"}, ErrNoFiscalCode},
		{"unknown serialNumber form", p.inter, leafOpts{serialNumber: "CF " + cf}, ErrNoFiscalCode},
		{"invalid CF", p.inter, leafOpts{serialNumber: "TINIT-RSSMRA80A01H501A"}, ErrBadFiscalCode},
		{"two different CFs", p.inter, leafOpts{serialNumber: "TINIT-" + cf, cn: "RSSMRA80A41H501Y/1"}, ErrBadFiscalCode},
		{"wrong usage", p.inter, leafOpts{serialNumber: "TINIT-" + cf, ku: x509.KeyUsageKeyEncipherment, eku: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}}, ErrWrongUsage},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			leaf, _ := newLeaf(t, tc.issuer, tc.o)
			chain := []*x509.Certificate{leaf}
			if tc.issuer == p.inter {
				chain = append(chain, p.inter.cert)
			}
			_, err := p.v.Verify(context.Background(), chain)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %s", err, tc.want.Code)
			}
			var e *Error
			if !errors.As(err, &e) || e.Message("it") == "" || e.Message("en") == e.Message("it") {
				t.Fatalf("want an *Error with Italian and English messages, got %#v", err)
			}
		})
	}
}

func TestUsageAlternatives(t *testing.T) {
	p := newPKI(t)
	for name, o := range map[string]leafOpts{
		"digital signature only": {serialNumber: "IT:" + cf, ku: x509.KeyUsageDigitalSignature, eku: []x509.ExtKeyUsage{}},
		"client auth EKU only":   {serialNumber: "IT:" + cf, ku: x509.KeyUsageKeyAgreement, eku: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
		"any EKU, key agreement": {serialNumber: "IT:" + cf, ku: x509.KeyUsageKeyAgreement, eku: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}},
	} {
		t.Run(name, func(t *testing.T) {
			leaf, _ := newLeaf(t, p.inter, o)
			if _, err := p.v.Verify(context.Background(), []*x509.Certificate{leaf, p.inter.cert}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestIntermediateMissingOrConfigured(t *testing.T) {
	p := newPKI(t)
	leaf, _ := newLeaf(t, p.inter, leafOpts{serialNumber: "TINIT-" + cf})
	if _, err := p.v.Verify(context.Background(), []*x509.Certificate{leaf}); !errors.Is(err, ErrUnknownCA) {
		t.Fatalf("without the intermediate: %v, want ErrUnknownCA", err)
	}
	v := *p.v
	v.Intermediates = x509.NewCertPool()
	v.Intermediates.AddCert(p.inter.cert)
	if _, err := v.Verify(context.Background(), []*x509.Certificate{leaf}); err != nil {
		t.Fatalf("with a configured intermediate: %v", err)
	}
}

func TestRevocationHook(t *testing.T) {
	p := newPKI(t)
	leaf, _ := newLeaf(t, p.inter, leafOpts{serialNumber: "TINIT-" + cf})
	var seen []string
	v := *p.v
	fail := revocation.ErrRevoked
	v.Revocation = revocation.CheckerFunc(func(ctx context.Context, c, issuer *x509.Certificate, at time.Time) (revocation.Result, error) {
		seen = append(seen, c.Subject.CommonName+"<"+issuer.Subject.CommonName)
		if c.Equal(leaf) && fail != nil {
			return revocation.Result{Serial: "AB"}, fmt.Errorf("ocsp: %w", fail)
		}
		return revocation.Result{Status: revocation.Good}, nil
	})
	_, err := v.Verify(context.Background(), []*x509.Certificate{leaf, p.inter.cert})
	if !errors.Is(err, ErrRevoked) || !strings.Contains(err.Error(), "ocsp: certificate revoked") {
		t.Fatalf("Verify = %v, want ErrRevoked wrapping the checker's error", err)
	}
	if len(seen) != 1 || seen[0] != "Mario Rossi<Test CNS Issuing CA" {
		t.Fatalf("hook calls: %v", seen)
	}
	fail = revocation.ErrUnavailable
	if _, err := v.Verify(context.Background(), []*x509.Certificate{leaf, p.inter.cert}); !errors.Is(err, ErrRevocationUnavailable) {
		t.Fatalf("status unavailable: %v", err)
	}
	seen, fail = nil, nil
	res, err := v.Verify(context.Background(), []*x509.Certificate{leaf, p.inter.cert})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 || len(res.Revocation) != 2 {
		t.Fatalf("the leaf and the intermediate must be checked, the root not: %v, %d results", seen, len(res.Revocation))
	}
}

func TestMisconfiguredAndEmpty(t *testing.T) {
	if _, err := (&Verifier{}).Verify(context.Background(), nil); !errors.Is(err, ErrMisconfigured) {
		t.Fatalf("no roots: %v", err)
	}
	p := newPKI(t)
	if _, err := p.v.Verify(context.Background(), nil); !errors.Is(err, ErrNoCertificate) {
		t.Fatalf("no chain: %v", err)
	}
	if _, err := p.v.Verify(context.Background(), []*x509.Certificate{nil}); !errors.Is(err, ErrNoCertificate) {
		t.Fatalf("nil leaf: %v", err)
	}
	if _, err := FromRequest(&http.Request{}); !errors.Is(err, ErrNoCertificate) {
		t.Fatalf("plain HTTP: %v", err)
	}
	if _, err := FromRequest(&http.Request{TLS: &tls.ConnectionState{}}); !errors.Is(err, ErrNoCertificate) {
		t.Fatalf("TLS without certificate: %v", err)
	}
}

// E029: the evidence holds the certificate chain and a transaction record
// with the request id and the certificate serial.
func TestE029Evidence(t *testing.T) {
	p := newPKI(t)
	leaf, _ := newLeaf(t, p.inter, leafOpts{serialNumber: "TINIT-" + cf})
	r, err := p.v.Verify(context.Background(), []*x509.Certificate{leaf, p.inter.cert})
	if err != nil {
		t.Fatal(err)
	}
	rest := r.ChainPEM()
	var got []*x509.Certificate
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, c)
	}
	if len(got) != 3 || !got[0].Equal(leaf) || !got[1].Equal(p.inter.cert) || !got[2].Equal(p.root.cert) {
		t.Fatalf("ChainPEM holds %d certificates, want leaf, intermediate, root", len(got))
	}
	tx := NewTransaction(r, "REQ-1", "sess-hash", "192.0.2.1", "Firefox", now)
	b, _ := json.Marshal(tx)
	for _, want := range []string{`"requestId":"REQ-1"`, `"certificateSerial":"` + r.Serial + `"`, `"certificateIssuer":`, `"sessionId":"sess-hash"`, `"ip":"192.0.2.1"`, `"userAgent":"Firefox"`} {
		if !strings.Contains(string(b), want) {
			t.Fatalf("transaction %s lacks %s", b, want)
		}
	}
}

func TestTLSConfig(t *testing.T) {
	c := TLSConfig(&tls.Config{MinVersion: tls.VersionTLS10, ServerName: "cns.example"})
	if c.ClientAuth != tls.RequestClientCert || c.MinVersion != tls.VersionTLS12 || c.ServerName != "cns.example" {
		t.Fatalf("TLSConfig: ClientAuth %v MinVersion %x ServerName %q", c.ClientAuth, c.MinVersion, c.ServerName)
	}
	if c := TLSConfig(&tls.Config{MinVersion: tls.VersionTLS13}); c.MinVersion != tls.VersionTLS13 {
		t.Fatal("TLSConfig lowered MinVersion")
	}
	if c := TLSConfig(nil); c.ClientAuth != tls.RequestClientCert {
		t.Fatal("TLSConfig(nil)")
	}
}

// End to end: a real TLS listener on loopback with TLSConfig, an http.Client
// presenting a card certificate; the handler runs FromRequest + Verify.
func TestEndToEndTLS(t *testing.T) {
	p := newPKI(t)
	p.v.Now = time.Now // the TLS stack uses the real clock; so does this test

	// Server certificate from an unrelated CA.
	srvCA := newCA(t, "Server CA", nil)
	srvKey := newKey(t)
	srvCert := issue(t, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "cns.localhost"},
		NotBefore:   time.Now().Add(-time.Hour),
		NotAfter:    time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}, srvCA, srvKey)

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		chain, err := FromRequest(r)
		if err == nil {
			var res Result
			res, err = p.v.Verify(r.Context(), chain)
			if err == nil {
				io.WriteString(w, "ok "+res.FiscalCode)
				return
			}
		}
		var e *Error
		errors.As(err, &e)
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, e.Code+" "+e.Message("en"))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, TLSConfig: TLSConfig(&tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{srvCert.Raw}, PrivateKey: srvKey}},
	}), ReadHeaderTimeout: 5 * time.Second}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	url := "https://" + ln.Addr().String() + "/"

	srvRoots := x509.NewCertPool()
	srvRoots.AddCert(srvCA.cert)
	client := func(certs ...tls.Certificate) *http.Client {
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs: srvRoots, Certificates: certs, MinVersion: tls.VersionTLS12,
		}}}
	}
	card := func(issuer *ca, o leafOpts, withInter bool) tls.Certificate {
		leaf, k := newLeaf(t, issuer, o)
		c := tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: k}
		if withInter {
			c.Certificate = append(c.Certificate, issuer.cert.Raw)
		}
		return c
	}
	real := func(o leafOpts) leafOpts {
		if o.notBefore.IsZero() {
			o.notBefore = time.Now().Add(-time.Hour)
			o.notAfter = time.Now().AddDate(1, 0, 0)
		}
		return o
	}

	get := func(c *http.Client) (int, string, error) {
		resp, err := c.Get(url)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}

	cases := []struct {
		name       string
		cert       tls.Certificate
		wantStatus int
		wantBody   string
	}{
		{"card accepted", card(p.inter, real(leafOpts{serialNumber: "TINIT-" + cf}), true), 200, "ok " + cf},
		{"E026 unknown CA explained by the page", card(p.other, real(leafOpts{serialNumber: "TINIT-" + cf}), false), 403, CodeUnknownCA},
		{"E027 expired explained by the page", card(p.inter, leafOpts{serialNumber: "TINIT-" + cf, notBefore: time.Now().AddDate(-2, 0, 0), notAfter: time.Now().Add(-time.Minute)}, true), 403, CodeExpired},
		{"no CF explained by the page", card(p.inter, real(leafOpts{cn: "Mario Rossi"}), true), 403, CodeNoFiscalCode},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body, err := get(client(tc.cert))
			if err != nil {
				t.Fatal(err)
			}
			if status != tc.wantStatus || !strings.HasPrefix(body, tc.wantBody) {
				t.Fatalf("got %d %q, want %d %q…", status, body, tc.wantStatus, tc.wantBody)
			}
		})
	}
	t.Run("no certificate explained by the page", func(t *testing.T) {
		status, body, err := get(client())
		if err != nil {
			t.Fatal(err)
		}
		if status != 403 || !strings.HasPrefix(body, CodeNoCertificate) {
			t.Fatalf("got %d %q, want 403 %s…", status, body, CodeNoCertificate)
		}
	})
}

// TestCardRevocationLive checks cards against a local CA's OCSP responder
// and CRL: a revoked card is refused (OCSP down, so the CRL decides), a
// good one is accepted with the status in the result.
func TestCardRevocationLive(t *testing.T) {
	ca := testpki.New(t, testpki.Options{Name: "Live CNS CA"})
	v := &Verifier{Roots: ca.Pool(), Revocation: &revocation.Client{}}
	card := func() *x509.Certificate {
		c, _ := ca.Person(cf, time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0), x509.KeyUsageDigitalSignature, x509.ExtKeyUsageClientAuth)
		return c
	}
	good := card()
	res, err := v.Verify(context.Background(), []*x509.Certificate{good})
	if err != nil || len(res.Revocation) != 1 || res.Revocation[0].Status != revocation.Good || res.Revocation[0].Method != "ocsp" {
		t.Fatalf("good card: %v %+v", err, res.Revocation)
	}
	revoked := card()
	ca.Revoke(revoked, time.Now().Add(-time.Minute))
	ca.SetOCSP(testpki.Broken)
	crlHits := ca.CRLHits()
	if _, err := v.Verify(context.Background(), []*x509.Certificate{revoked}); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revoked card: %v", err)
	}
	if ca.CRLHits() == crlHits {
		t.Fatal("the CRL was not fetched")
	}
	ca.SetCRL(testpki.Broken)
	if _, err := v.Verify(context.Background(), []*x509.Certificate{card()}); !errors.Is(err, ErrRevocationUnavailable) {
		t.Fatalf("no source: %v", err)
	}
	if it, en := (&Error{Code: CodeRevocationUnavailable}).Message("it"), (&Error{Code: CodeRevocationUnavailable}).Message("en"); it == en || !strings.Contains(en, "could not be checked") {
		t.Fatalf("messages %q / %q", it, en)
	}
}
