package revocation_test

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/internal/testpki"
	"github.com/spid-idp/spid-idp/revocation"
	"github.com/spid-idp/spid-idp/storage/memory"
)

const cf = "RSSMRA80A01H501U"

func leaf(ca *testpki.CA) *x509.Certificate {
	c, _ := ca.Person(cf, time.Now().AddDate(0, -1, 0), time.Now().AddDate(1, 0, 0), x509.KeyUsageDigitalSignature)
	return c
}

// TestRevocationSources runs the client against a local OCSP responder
// and CRL: every status, OCSP first and the CRL as fallback, hard-fail
// and soft-fail.
func TestRevocationSources(t *testing.T) {
	ctx := context.Background()
	past := time.Now().Add(-24 * time.Hour)
	cases := []struct {
		name        string
		setup       func(ca *testpki.CA, c *x509.Certificate)
		unreachable bool
		noOCSP      bool
		soft        bool
		at          time.Time
		wantStatus  revocation.Status
		wantMethod  string
		wantErr     error
		wantOCSP    bool // the responder was asked
		wantCRL     bool // the CRL was fetched
		wantSoft    bool
	}{
		{name: "good by OCSP", wantStatus: revocation.Good, wantMethod: "ocsp", wantOCSP: true},
		{name: "revoked by OCSP", setup: func(ca *testpki.CA, c *x509.Certificate) { ca.Revoke(c, past) },
			wantStatus: revocation.Revoked, wantMethod: "ocsp", wantErr: revocation.ErrRevoked, wantOCSP: true},
		{name: "revoked after the time asked for", setup: func(ca *testpki.CA, c *x509.Certificate) { ca.Revoke(c, past) },
			at: past.Add(-time.Hour), wantStatus: revocation.Revoked, wantMethod: "ocsp", wantOCSP: true},
		{name: "OCSP unknown, CRL says revoked", setup: func(ca *testpki.CA, c *x509.Certificate) { ca.SetOCSP(testpki.Unknown); ca.Revoke(c, past) },
			wantStatus: revocation.Revoked, wantMethod: "crl", wantErr: revocation.ErrRevoked, wantOCSP: true, wantCRL: true},
		{name: "OCSP down, CRL says good", setup: func(ca *testpki.CA, c *x509.Certificate) { ca.SetOCSP(testpki.Broken) },
			wantStatus: revocation.Good, wantMethod: "crl", wantOCSP: true, wantCRL: true},
		{name: "OCSP garbage, CRL says revoked", setup: func(ca *testpki.CA, c *x509.Certificate) { ca.SetOCSP(testpki.Garbage); ca.Revoke(c, past) },
			wantStatus: revocation.Revoked, wantMethod: "crl", wantErr: revocation.ErrRevoked, wantOCSP: true, wantCRL: true},
		{name: "CRL only, revoked", noOCSP: true, setup: func(ca *testpki.CA, c *x509.Certificate) { ca.Revoke(c, past) },
			wantStatus: revocation.Revoked, wantMethod: "crl", wantErr: revocation.ErrRevoked, wantCRL: true},
		{name: "unknown everywhere, hard-fail", setup: func(ca *testpki.CA, c *x509.Certificate) { ca.SetOCSP(testpki.Unknown); ca.SetCRL(testpki.Broken) },
			wantStatus: revocation.Unknown, wantMethod: "ocsp", wantErr: revocation.ErrUnavailable, wantOCSP: true, wantCRL: true},
		{name: "unknown everywhere, soft-fail", soft: true, setup: func(ca *testpki.CA, c *x509.Certificate) { ca.SetOCSP(testpki.Unknown); ca.SetCRL(testpki.Garbage) },
			wantStatus: revocation.Unknown, wantMethod: "ocsp", wantOCSP: true, wantCRL: true, wantSoft: true},
		{name: "unreachable, hard-fail", unreachable: true, wantStatus: revocation.Unavailable, wantErr: revocation.ErrUnavailable},
		{name: "unreachable, soft-fail", unreachable: true, soft: true, wantStatus: revocation.Unavailable, wantSoft: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ca := testpki.New(t, testpki.Options{Unreachable: tc.unreachable})
			ca.NoOCSP = tc.noOCSP
			c := leaf(ca)
			if tc.setup != nil {
				tc.setup(ca, c)
			}
			cl := &revocation.Client{SoftFail: tc.soft, Timeout: 2 * time.Second}
			res, err := cl.Check(ctx, c, ca.Cert, tc.at)
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v (result %+v)", err, tc.wantErr, res)
			}
			if res.Status != tc.wantStatus || res.Method != tc.wantMethod || res.SoftFail != tc.wantSoft {
				t.Fatalf("result %+v, want status %s method %q soft %v", res, tc.wantStatus, tc.wantMethod, tc.wantSoft)
			}
			if (ca.OCSPHits() > 0) != tc.wantOCSP || (ca.CRLHits() > 0) != tc.wantCRL {
				t.Fatalf("OCSP hits %d, CRL hits %d; want OCSP %v CRL %v", ca.OCSPHits(), ca.CRLHits(), tc.wantOCSP, tc.wantCRL)
			}
			if res.Serial == "" || res.Subject == "" || res.CheckedAt.IsZero() {
				t.Fatalf("incomplete result %+v", res)
			}
			if tc.wantStatus == revocation.Unavailable && !strings.Contains(res.Detail, "unreachable") {
				t.Fatalf("detail %q does not say the source is unreachable", res.Detail)
			}
		})
	}
}

// TestRevocationNoSources: a certificate naming no source cannot be
// checked; hard-fail refuses it.
func TestRevocationNoSources(t *testing.T) {
	ca := testpki.New(t, testpki.Options{})
	ca.NoSources = true
	c := leaf(ca)
	res, err := (&revocation.Client{}).Check(context.Background(), c, ca.Cert, time.Time{})
	if !errors.Is(err, revocation.ErrUnavailable) || !strings.Contains(res.Detail, "neither an OCSP responder nor a CRL") {
		t.Fatalf("err %v, detail %q", err, res.Detail)
	}
}

// TestRevocationWrongSigner: a CRL or OCSP answer signed by another CA is
// not an answer.
func TestRevocationWrongSigner(t *testing.T) {
	ca := testpki.New(t, testpki.Options{})
	other := testpki.New(t, testpki.Options{Name: "Other CA"})
	c, _ := ca.Issue(&x509.Certificate{NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		OCSPServer: []string{other.OCSPURL}, CRLDistributionPoints: []string{other.CRLURL}})
	res, err := (&revocation.Client{}).Check(context.Background(), c, ca.Cert, time.Time{})
	if !errors.Is(err, revocation.ErrUnavailable) || other.OCSPHits() == 0 || other.CRLHits() == 0 {
		t.Fatalf("err %v, result %+v", err, res)
	}
	if !strings.Contains(res.Detail, "bad OCSP signature") || !strings.Contains(res.Detail, "an indirect CRL, not supported") {
		t.Fatalf("detail %q", res.Detail)
	}
}

// TestRevocationStale: a CRL past its next update is not an answer.
func TestRevocationStale(t *testing.T) {
	ca := testpki.New(t, testpki.Options{})
	ca.NoOCSP = true
	c := leaf(ca)
	cl := &revocation.Client{Now: func() time.Time { return time.Now().Add(3 * time.Hour) }}
	res, err := cl.Check(context.Background(), c, ca.Cert, time.Time{})
	if !errors.Is(err, revocation.ErrUnavailable) || !strings.Contains(res.Detail, "stale") {
		t.Fatalf("err %v, detail %q", err, res.Detail)
	}
}

// TestRevocationCache: a definite answer is shared through the cache (a
// second client, as on another node, does not ask the sources again); a
// failure is not cached.
func TestRevocationCache(t *testing.T) {
	ctx := context.Background()
	cache := memory.New()
	ca := testpki.New(t, testpki.Options{})
	c := leaf(ca)
	past := time.Now().Add(-time.Hour)
	ca.Revoke(c, past)
	node1 := &revocation.Client{Cache: cache}
	node2 := &revocation.Client{Cache: cache}
	if _, err := node1.Check(ctx, c, ca.Cert, time.Time{}); !errors.Is(err, revocation.ErrRevoked) {
		t.Fatal(err)
	}
	hits := ca.OCSPHits()
	res, err := node2.Check(ctx, c, ca.Cert, time.Time{})
	if !errors.Is(err, revocation.ErrRevoked) || !res.Cached || ca.OCSPHits() != hits {
		t.Fatalf("err %v, cached %v, hits %d → %d", err, res.Cached, hits, ca.OCSPHits())
	}
	// The cached revocation is read against each caller's time.
	if res, err := node2.Check(ctx, c, ca.Cert, past.Add(-time.Minute)); err != nil || !res.Cached {
		t.Fatalf("before revocation: err %v, %+v", err, res)
	}

	// Failures are not cached: the next check asks again.
	down := testpki.New(t, testpki.Options{})
	d := leaf(down)
	down.SetOCSP(testpki.Broken)
	down.SetCRL(testpki.Broken)
	if _, err := node1.Check(ctx, d, down.Cert, time.Time{}); !errors.Is(err, revocation.ErrUnavailable) {
		t.Fatal(err)
	}
	down.SetOCSP(testpki.Answer)
	if res, err := node2.Check(ctx, d, down.Cert, time.Time{}); err != nil || res.Cached || res.Status != revocation.Good {
		t.Fatalf("after recovery: err %v, %+v", err, res)
	}
}

// TestRevocationTimeout: a source that never answers is given up after
// the timeout, not waited on forever.
func TestRevocationTimeout(t *testing.T) {
	block := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer slow.Close()
	defer close(block)
	ca := testpki.New(t, testpki.Options{})
	c, _ := ca.Issue(&x509.Certificate{NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		OCSPServer: []string{slow.URL}, CRLDistributionPoints: []string{slow.URL}})
	res, err := (&revocation.Client{Timeout: 200 * time.Millisecond}).Check(context.Background(), c, ca.Cert, time.Time{})
	if !errors.Is(err, revocation.ErrUnavailable) || res.Status != revocation.Unavailable {
		t.Fatalf("err %v, %+v", err, res)
	}
}

// cdpExtension is a CRL distribution points extension with one point per
// entry of urls; crlIssuer, when set, is named as the cRLIssuer of every
// point (an indirect CRL).
func cdpExtension(t *testing.T, crlIssuer *x509.Certificate, urls ...string) pkix.Extension {
	t.Helper()
	type distributionPointName struct {
		FullName []asn1.RawValue `asn1:"optional,tag:0"`
	}
	type distributionPoint struct {
		DistributionPoint distributionPointName `asn1:"optional,tag:0"`
		CRLIssuer         []asn1.RawValue       `asn1:"optional,tag:2"`
	}
	var dps []distributionPoint
	for _, u := range urls {
		dp := distributionPoint{DistributionPoint: distributionPointName{FullName: []asn1.RawValue{{Tag: 6, Class: asn1.ClassContextSpecific, Bytes: []byte(u)}}}}
		if crlIssuer != nil {
			// directoryName [4] holding the issuer's Name.
			dp.CRLIssuer = []asn1.RawValue{{Tag: 4, Class: asn1.ClassContextSpecific, IsCompound: true, Bytes: crlIssuer.RawSubject}}
		}
		dps = append(dps, dp)
	}
	b, err := asn1.Marshal(dps)
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 31}, Value: b}
}

// TestRevocationDistributionPoints: an LDAP distribution point is skipped
// with a message saying so (only HTTP is fetched) and the HTTP one still
// answers; with LDAP alone the status is not established (hard-fail
// refuses, naming LDAP); an indirect CRL (cRLIssuer in the point) is
// skipped with its own message, never fetched.
func TestRevocationDistributionPoints(t *testing.T) {
	ctx := context.Background()
	issue := func(ca *testpki.CA, ext pkix.Extension) *x509.Certificate {
		c, _ := ca.Issue(&x509.Certificate{NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			CRLDistributionPoints: []string{"unused"}, ExtraExtensions: []pkix.Extension{ext}})
		return c
	}
	const ldap = "ldap://ldap.example.it/cn=CRL,o=Test?certificateRevocationList"

	ca := testpki.New(t, testpki.Options{})
	ca.NoOCSP = true
	c := issue(ca, cdpExtension(t, nil, ldap, ca.CRLURL))
	ca.Revoke(c, time.Now().Add(-time.Minute))
	res, err := (&revocation.Client{}).Check(ctx, c, ca.Cert, time.Time{})
	if !errors.Is(err, revocation.ErrRevoked) || res.Method != revocation.MethodCRL || res.Source != ca.CRLURL {
		t.Fatalf("LDAP then HTTP: err %v, result %+v", err, res)
	}
	if !strings.Contains(res.Detail, "crl "+ldap+": skipped: LDAP distribution points are not fetched (HTTP only)") {
		t.Errorf("the report does not say the LDAP point was skipped: %q", res.Detail)
	}

	only := issue(ca, cdpExtension(t, nil, ldap))
	res, err = (&revocation.Client{}).Check(ctx, only, ca.Cert, time.Time{})
	if !errors.Is(err, revocation.ErrUnavailable) || !strings.Contains(err.Error(), "LDAP distribution points are not fetched") {
		t.Fatalf("LDAP only, hard-fail: err %v", err)
	}
	res, err = (&revocation.Client{SoftFail: true}).Check(ctx, only, ca.Cert, time.Time{})
	if err != nil || !res.SoftFail || !strings.Contains(res.Summary(), "LDAP") {
		t.Fatalf("LDAP only, soft-fail: err %v, summary %q", err, res.Summary())
	}

	other := testpki.New(t, testpki.Options{Name: "CRL Issuer"})
	hits := other.CRLHits()
	ind := issue(ca, cdpExtension(t, other.Cert, other.CRLURL))
	res, err = (&revocation.Client{}).Check(ctx, ind, ca.Cert, time.Time{})
	if !errors.Is(err, revocation.ErrUnavailable) || !strings.Contains(res.Detail, "skipped: an indirect CRL") {
		t.Fatalf("indirect CRL: err %v, detail %q", err, res.Detail)
	}
	if other.CRLHits() != hits {
		t.Error("the indirect CRL was fetched")
	}
}
