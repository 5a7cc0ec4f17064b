package app

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/spid-idp/spid-idp/demo"
	"github.com/spid-idp/spid-idp/enrolment/cns"
	"github.com/spid-idp/spid-idp/enrolment/signature"
	"github.com/spid-idp/spid-idp/enrolment/web"
	"github.com/spid-idp/spid-idp/portal"
	"github.com/spid-idp/spid-idp/templates"
)

// MountEnrolment builds the citizen enrolment pages and mounts them on
// a.Mux under /enrol/ and /activate. Build calls it once a.Enrolment and
// a.Mux exist.
func (a *App) MountEnrolment() error {
	h, err := a.enrolmentWeb()
	if err != nil {
		return err
	}
	routes := h.Routes()
	a.Mux.Handle(web.PathStart, routes)
	a.Mux.Handle(web.PathActivate, routes)
	return nil
}

// EnrolmentHandler is the handler of /enrol/… and /activate.
func (a *App) EnrolmentHandler() (http.Handler, error) {
	h, err := a.enrolmentWeb()
	if err != nil {
		return nil, err
	}
	return h.Routes(), nil
}

func (a *App) enrolmentWeb() (*web.Handler, error) {
	if a.enrolWeb != nil {
		return a.enrolWeb, nil
	}
	cfg := a.Config
	if a.Enrolment == nil {
		return nil, errors.New("enrolment web: the enrolment service is not built")
	}
	pages, err := templates.New(templates.WithBrand(cfg.IdP.Name))
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	keys := [][]byte{cfg.IdP.Session.CookieKey}
	if len(cfg.IdP.Session.PreviousCookieKey) > 0 {
		keys = append(keys, cfg.IdP.Session.PreviousCookieKey)
	}
	base := cfg.Server.BaseURL
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("server.base_url: %w", err)
	}
	h := &web.Handler{Service: a.Enrolment, Pages: pages, CookieKeys: keys, Secure: u.Scheme == "https",
		SelfOrigin: u.Scheme + "://" + u.Host, Log: a.Log.With("component", "enrolment-web")}
	if cfg.Demo {
		h.LoginURL = base + demo.Prefix + "/"
	}
	h.AccountURL = portal.Prefix + "/"
	if h.Legal, err = a.LegalTexts(); err != nil {
		return nil, err
	}
	if f := cfg.Enrolment.SignatureTrustFile; f != "" {
		pool, err := certPool(f)
		if err != nil {
			return nil, fmt.Errorf("enrolment.signature_trust_file: %w", err)
		}
		h.Signature = &signature.Verifier{Trust: pool, RequireQC: cfg.Enrolment.RequireQC, TrustListVersion: f}
	}
	if cfg.Enrolment.CNSListen != "" {
		pool, err := certPool(cfg.Enrolment.CNSCAFile)
		if err != nil {
			return nil, fmt.Errorf("enrolment.cns_ca_file: %w", err)
		}
		h.CNS = &cns.Verifier{Roots: pool}
		h.CNSBase, err = cnsBase(u, cfg.Enrolment.CNSListen)
		if err != nil {
			return nil, err
		}
	}
	if err := h.Init(); err != nil {
		return nil, err
	}
	a.enrolWeb = h
	return h, nil
}

// cnsBase is the CNS listener's public address: the IdP's host name with
// the listener's port.
func cnsBase(base *url.URL, listen string) (string, error) {
	_, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("enrolment.cns_listen: %w", err)
	}
	return "https://" + net.JoinHostPort(base.Hostname(), port), nil
}

func certPool(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, errors.New("no PEM certificate in " + file)
	}
	return pool, nil
}

// CNSServer is the dedicated TLS server of the CNS/CIE path, or nil when
// enrolment.cns_listen is empty. It asks for a client certificate without
// requiring it (cns.TLSConfig), so a refusal gets a page. Its certificate is
// server.tls's; without one (demo) a self-signed certificate for the base
// URL's host is made at start. Serve it with ListenAndServeTLS("", "").
func (a *App) CNSServer() (*http.Server, error) {
	cfg := a.Config
	if cfg.Enrolment.CNSListen == "" {
		return nil, nil
	}
	h, err := a.enrolmentWeb()
	if err != nil {
		return nil, err
	}
	tc := cns.TLSConfig(&tls.Config{MinVersion: tls.VersionTLS12})
	if cfg.Server.TLS.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.Server.TLS.CertFile, cfg.Server.TLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("server.tls: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	} else {
		u, _ := url.Parse(cfg.Server.BaseURL)
		cert, err := selfSigned(u.Hostname())
		if err != nil {
			return nil, err
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return &http.Server{Addr: cfg.Enrolment.CNSListen, Handler: h.CNSHandler(), TLSConfig: tc,
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second,
		IdleTimeout: 60 * time.Second, MaxHeaderBytes: 64 << 10}, nil
}

func selfSigned(host string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(90 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	if ip := net.ParseIP(host); ip != nil {
		tpl.IPAddresses = []net.IP{ip}
	} else {
		tpl.DNSNames = []string{host}
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
