// Package testpki is a small certification authority for tests: it issues
// certificates that name its own OCSP responder and CRL distribution point,
// both served on 127.0.0.1, where a test revokes certificates, makes a
// source answer "unknown", fail or stay silent, and counts the requests
// each source received.
package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// Modes of a source.
const (
	Answer  = "answer"  // the normal answer
	Unknown = "unknown" // OCSP: "unknown" for every certificate
	Broken  = "broken"  // HTTP 500
	Garbage = "garbage" // 200 with bytes that are not an answer
)

var serials atomic.Int64

// CA issues certificates and serves their status.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey

	t   testing.TB
	srv *httptest.Server
	// URLs the certificates it issues name; "" when Offline.
	OCSPURL, CRLURL string

	mu        sync.Mutex
	revoked   map[string]time.Time // serial (decimal) → revocation time
	ocspMode  string
	crlMode   string
	ocspHits  atomic.Int64
	crlHits   atomic.Int64
	NoOCSP    bool // issue without an OCSP URL (CRL only)
	NoSources bool // issue without OCSP or CRL URL
}

// Options of New.
type Options struct {
	Name string
	// Parent signs the new CA (an intermediate); nil: self-signed root.
	Parent *CA
	// Unreachable: the URLs point at a closed port on 127.0.0.1.
	Unreachable bool
}

// New makes a CA with its status server (closed when the test ends).
func New(t testing.TB, o Options) *CA {
	t.Helper()
	ca := &CA{t: t, revoked: map[string]time.Time{}, ocspMode: Answer, crlMode: Answer}
	if o.Name == "" {
		o.Name = "Test CA"
	}
	tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: o.Name, Country: []string{"IT"}, Organization: []string{"Test PKI"}},
		NotBefore: time.Now().AddDate(-3, 0, 0), NotAfter: time.Now().AddDate(10, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	if o.Parent != nil {
		ca.Cert, ca.Key = o.Parent.Issue(tmpl)
	} else {
		ca.Cert, ca.Key = create(t, tmpl, nil, nil)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /ocsp", ca.serveOCSP)
	mux.HandleFunc("GET /crl", ca.serveCRL)
	ca.srv = httptest.NewServer(mux)
	t.Cleanup(ca.srv.Close)
	base := ca.srv.URL
	if o.Unreachable {
		base = "http://" + closedAddr(t)
	}
	ca.OCSPURL, ca.CRLURL = base+"/ocsp", base+"/crl"
	return ca
}

// closedAddr is a 127.0.0.1 address where nothing listens.
func closedAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func create(t testing.TB, tmpl, parent *x509.Certificate, parentKey crypto.Signer) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if tmpl.SerialNumber == nil {
		tmpl.SerialNumber = big.NewInt(7000 + serials.Add(1))
	}
	var signer crypto.Signer = k
	if parent == nil {
		parent = tmpl
	} else {
		signer = parentKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &k.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, k
}

// Issue signs tmpl (a serial is assigned when nil), adding the CA's OCSP
// and CRL URLs unless the CA is told not to.
func (ca *CA) Issue(tmpl *x509.Certificate) (*x509.Certificate, *ecdsa.PrivateKey) {
	ca.t.Helper()
	if !ca.NoSources {
		if !ca.NoOCSP && tmpl.OCSPServer == nil {
			tmpl.OCSPServer = []string{ca.OCSPURL}
		}
		if tmpl.CRLDistributionPoints == nil {
			tmpl.CRLDistributionPoints = []string{ca.CRLURL}
		}
	}
	return create(ca.t, tmpl, ca.Cert, ca.Key)
}

// Person issues a leaf for a holder with fiscal code cf (serialNumber
// "TINIT-<cf>") valid from notBefore to notAfter.
func (ca *CA) Person(cf string, notBefore, notAfter time.Time, ku x509.KeyUsage, eku ...x509.ExtKeyUsage) (*x509.Certificate, *ecdsa.PrivateKey) {
	return ca.Issue(&x509.Certificate{Subject: pkix.Name{CommonName: "BIANCHI GIULIA", SerialNumber: "TINIT-" + cf, Country: []string{"IT"}},
		NotBefore: notBefore, NotAfter: notAfter, KeyUsage: ku, ExtKeyUsage: eku})
}

// Revoke lists c as revoked since at on both sources.
func (ca *CA) Revoke(c *x509.Certificate, at time.Time) {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	ca.revoked[c.SerialNumber.String()] = at
}

// SetOCSP and SetCRL choose how each source answers (Answer, Unknown,
// Broken, Garbage).
func (ca *CA) SetOCSP(mode string) { ca.mu.Lock(); ca.ocspMode = mode; ca.mu.Unlock() }
func (ca *CA) SetCRL(mode string)  { ca.mu.Lock(); ca.crlMode = mode; ca.mu.Unlock() }

// OCSPHits and CRLHits count the requests each source received.
func (ca *CA) OCSPHits() int64 { return ca.ocspHits.Load() }
func (ca *CA) CRLHits() int64  { return ca.crlHits.Load() }

// PEM is the CA certificate as PEM.
func (ca *CA) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// PEMFile writes the CA certificate to a file in a temporary directory.
func (ca *CA) PEMFile() string {
	f := filepath.Join(ca.t.TempDir(), "ca.pem")
	if err := os.WriteFile(f, ca.PEM(), 0o600); err != nil {
		ca.t.Fatal(err)
	}
	return f
}

// Pool is a pool holding the CA certificate.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

func (ca *CA) serveOCSP(w http.ResponseWriter, r *http.Request) {
	ca.ocspHits.Add(1)
	ca.mu.Lock()
	mode := ca.ocspMode
	ca.mu.Unlock()
	switch mode {
	case Broken:
		http.Error(w, "down", http.StatusInternalServerError)
		return
	case Garbage:
		_, _ = w.Write([]byte("not an OCSP response"))
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	req, err := ocsp.ParseRequest(body)
	if err != nil {
		_, _ = w.Write(ocsp.MalformedRequestErrorResponse)
		return
	}
	now := time.Now()
	tmpl := ocsp.Response{Status: ocsp.Good, SerialNumber: req.SerialNumber, ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(time.Hour)}
	ca.mu.Lock()
	if at, ok := ca.revoked[req.SerialNumber.String()]; ok {
		tmpl.Status, tmpl.RevokedAt, tmpl.RevocationReason = ocsp.Revoked, at, ocsp.KeyCompromise
	}
	ca.mu.Unlock()
	if mode == Unknown {
		tmpl.Status = ocsp.Unknown
	}
	resp, err := ocsp.CreateResponse(ca.Cert, ca.Cert, tmpl, ca.Key)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/ocsp-response")
	_, _ = w.Write(resp)
}

func (ca *CA) serveCRL(w http.ResponseWriter, r *http.Request) {
	ca.crlHits.Add(1)
	ca.mu.Lock()
	mode := ca.crlMode
	var entries []x509.RevocationListEntry
	for s, at := range ca.revoked {
		n, _ := new(big.Int).SetString(s, 10)
		entries = append(entries, x509.RevocationListEntry{SerialNumber: n, RevocationTime: at})
	}
	ca.mu.Unlock()
	switch mode {
	case Broken:
		http.Error(w, "down", http.StatusInternalServerError)
		return
	case Garbage:
		_, _ = w.Write([]byte("not a CRL"))
		return
	}
	now := time.Now()
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(now.UnixNano()),
		ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(time.Hour), RevokedCertificateEntries: entries}, ca.Cert, ca.Key)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/pkix-crl")
	_, _ = w.Write(der)
}
