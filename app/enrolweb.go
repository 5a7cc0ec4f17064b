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
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/demo"
	"github.com/spid-idp/spid-idp/enrolment/cns"
	"github.com/spid-idp/spid-idp/enrolment/pos"
	"github.com/spid-idp/spid-idp/enrolment/signature"
	"github.com/spid-idp/spid-idp/enrolment/web"
	"github.com/spid-idp/spid-idp/portal"
	"github.com/spid-idp/spid-idp/revocation"
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
	if a.video != nil {
		return a.video.RegisterApplicant(a.Mux)
	}
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
	pages, err := a.Pages()
	if err != nil {
		return nil, err
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
		h.Points = demo.PointsOfService()
	}
	if f := cfg.Enrolment.PointsOfService; f != "" {
		if h.Points, err = pos.Load(f); err != nil {
			return nil, fmt.Errorf("enrolment.points_of_service: %w", err)
		}
	}
	h.AccountURL = portal.Prefix + "/"
	if a.video, err = a.videoCalls(); err != nil {
		return nil, err
	}
	if a.video != nil {
		h.Video = a.video.Service
	}
	if h.Legal, err = a.LegalTexts(); err != nil {
		return nil, err
	}
	rev := a.Revocation()
	if f := cfg.Enrolment.SignatureTrustFile; f != "" {
		pool, err := certPool(f)
		if err != nil {
			return nil, fmt.Errorf("enrolment.signature_trust_file: %w", err)
		}
		h.Signature = &signature.Verifier{Trust: pool, RequireQC: cfg.Enrolment.RequireQC, TrustListVersion: f, Revocation: rev}
		if tf := cfg.Enrolment.TSATrustFile; tf != "" {
			if h.Signature.TSARoots, err = certPool(tf); err != nil {
				return nil, fmt.Errorf("enrolment.tsa_trust_file: %w", err)
			}
		}
	}
	h.SignatureMaxAttempts = cfg.Enrolment.SignatureMaxAttempts
	if cfg.Enrolment.CNSListen != "" {
		pool, err := certPool(cfg.Enrolment.CNSCAFile)
		if err != nil {
			return nil, fmt.Errorf("enrolment.cns_ca_file: %w", err)
		}
		h.CNS = &cns.Verifier{Roots: pool, Revocation: rev}
		h.CNSMaxAttempts = cfg.Enrolment.CNSMaxAttempts
		h.CNSBase = strings.TrimRight(cfg.Enrolment.CNSPublicURL, "/")
		if h.CNSBase == "" {
			if h.CNSBase, err = cnsBase(u, cfg.Enrolment.CNSListen); err != nil {
				return nil, err
			}
		}
	}
	if err := h.Init(); err != nil {
		return nil, err
	}
	a.enrolWeb = h
	return h, nil
}

// Revocation is the OCSP/CRL checker of cards and signers, its answers
// cached in the shared short-lived store so every node sees the same.
func (a *App) Revocation() *revocation.Client {
	e := a.Config.Enrolment
	c := &revocation.Client{Timeout: e.RevocationTimeout, CacheTTL: e.RevocationCacheTTL, SoftFail: e.Revocation == "soft",
		Log: a.Log.With("component", "revocation")}
	if a.Backends != nil && a.Backends.Eph != nil {
		c.Cache = a.Backends.Eph
	}
	return c
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
// requiring it (cns.TLSConfig), so a refusal gets a page. It terminates TLS
// itself (a proxy in front would take the card's certificate away): its
// certificate is enrolment.cns_cert_file, else server.tls's; in demo mode
// without either, a self-signed certificate for the public host is made at
// start, with a warning. Serve it with ServeTLS(listener, "", "").
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
	switch {
	case cfg.Enrolment.CNSCertFile != "":
		cert, err := tls.LoadX509KeyPair(cfg.Enrolment.CNSCertFile, cfg.Enrolment.CNSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("enrolment.cns_cert_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	case cfg.Server.TLS.CertFile != "":
		cert, err := tls.LoadX509KeyPair(cfg.Server.TLS.CertFile, cfg.Server.TLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("server.tls: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	case cfg.Demo:
		pub, err := url.Parse(h.CNSBase)
		if err != nil {
			return nil, fmt.Errorf("enrolment.cns_public_url: %w", err)
		}
		cert, err := selfSigned(pub.Hostname())
		if err != nil {
			return nil, err
		}
		a.Log.Warn("CNS listener: self-signed certificate made at start (demo); browsers will warn. Set enrolment.cns_cert_file.", "url", h.CNSBase)
		tc.Certificates = []tls.Certificate{cert}
	default:
		return nil, errors.New("enrolment.cns_cert_file: required when enrolment.cns_listen is set and server.tls is empty: the CNS listener terminates TLS itself")
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
