package revocation

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/spid-idp/spid-idp/storage"
)

// Defaults of Client.
const (
	DefaultTimeout  = 5 * time.Second
	DefaultCacheTTL = time.Hour
	// maxOCSPBytes and maxCRLBytes bound what a source may send: an OCSP
	// response is a few KiB; a national CA's CRL can reach megabytes.
	maxOCSPBytes = 1 << 20
	maxCRLBytes  = 32 << 20
	// skew tolerates a source's clock slightly ahead of ours.
	skew = 5 * time.Minute
)

// Cache is the part of the shared short-lived store the client uses
// (storage.Values: Redis in a cluster, in-process in demo mode).
type Cache interface {
	CreateValue(ctx context.Context, key string, value []byte, expiresAt time.Time) error
	GetValue(ctx context.Context, key string) ([]byte, time.Time, error)
}

// Client asks OCSP responders and CRL distribution points. The zero value
// works (hard-fail, no cache, DefaultTimeout per source).
type Client struct {
	// HTTP does the requests; a client with Timeout as its timeout when nil.
	HTTP    *http.Client
	Timeout time.Duration
	// Cache keeps answers for CacheTTL at most, never past the source's
	// nextUpdate; nil: every check asks the sources.
	Cache    Cache
	CacheTTL time.Duration
	// SoftFail accepts a certificate whose status cannot be established
	// (the result says so); false refuses it (hard-fail).
	SoftFail bool
	Now      func() time.Time
	Log      *slog.Logger
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	t := c.Timeout
	if t <= 0 {
		t = DefaultTimeout
	}
	return &http.Client{Timeout: t}
}

// record is what the cache keeps: the source's facts, not a verdict, so
// a cached revocation is read against each caller's own time.
type record struct {
	Status     Status    `json:"s"`
	Method     string    `json:"m"`
	Source     string    `json:"u"`
	RevokedAt  time.Time `json:"r,omitzero"`
	Reason     int       `json:"c,omitempty"`
	ThisUpdate time.Time `json:"t,omitzero"`
	NextUpdate time.Time `json:"n,omitzero"`
	CheckedAt  time.Time `json:"k"`
}

// Check implements Checker.
func (c *Client) Check(ctx context.Context, cert, issuer *x509.Certificate, at time.Time) (Result, error) {
	now := c.now()
	if at.IsZero() {
		at = now
	}
	res := Result{Subject: cert.Subject.String(), Serial: serialHex(cert), At: at.UTC(), CheckedAt: now.UTC()}
	key := cacheKey(cert, issuer)
	rec, cached := c.cached(ctx, key)
	if !cached {
		var fails []string
		rec, fails = c.ask(ctx, cert, issuer, now)
		res.Detail = strings.Join(fails, "; ")
		c.store(ctx, key, rec, now)
	}
	res.Status, res.Method, res.Source = rec.Status, rec.Method, rec.Source
	res.RevokedAt, res.Reason, res.ThisUpdate, res.NextUpdate = rec.RevokedAt, rec.Reason, rec.ThisUpdate, rec.NextUpdate
	res.Cached = cached
	if cached {
		res.CheckedAt = rec.CheckedAt
	}
	switch res.Status {
	case Good:
		return res, nil
	case Revoked:
		if res.RevokedBy() {
			return res, &Error{Result: res, err: ErrRevoked}
		}
		// Revoked only after the (time-stamped) time asked for.
		return res, nil
	}
	if c.SoftFail {
		res.SoftFail = true
		c.log().Warn("certificate status not established; accepted by the soft-fail policy",
			"subject", res.Subject, "serial", res.Serial, "detail", res.Detail)
		return res, nil
	}
	return res, &Error{Result: res, err: ErrUnavailable}
}

func (c *Client) log() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return slog.New(slog.DiscardHandler)
}

// ask tries every OCSP responder, then every CRL distribution point, and
// returns the first definite answer (good or revoked). An OCSP "unknown"
// is remembered but the CRL may still answer.
func (c *Client) ask(ctx context.Context, cert, issuer *x509.Certificate, now time.Time) (record, []string) {
	var fails []string
	unknown := record{}
	for _, u := range cert.OCSPServer {
		rec, err := c.askOCSP(ctx, u, cert, issuer, now)
		if err != nil {
			fails = append(fails, "ocsp "+u+": "+err.Error())
			continue
		}
		if rec.Status == Unknown {
			fails = append(fails, "ocsp "+u+": the responder does not know the certificate")
			unknown = rec
			continue
		}
		return rec, fails
	}
	dps, err := distributionPoints(cert)
	if err != nil {
		fails = append(fails, "crl: "+err.Error())
	}
	for _, dp := range dps {
		for _, u := range dp.urls {
			switch {
			case dp.indirect:
				// The CRL's signer would be another authority, which the
				// trust list does not name for this certificate.
				fails = append(fails, "crl "+u+": skipped: an indirect CRL (the distribution point names a cRLIssuer other than the certificate's issuer) is not supported")
				continue
			case isLDAP(u):
				fails = append(fails, "crl "+u+": skipped: LDAP distribution points are not fetched (HTTP only)")
				continue
			}
			rec, err := c.askCRL(ctx, u, cert, issuer, now)
			if err != nil {
				fails = append(fails, "crl "+u+": "+err.Error())
				continue
			}
			return rec, fails
		}
	}
	if len(cert.OCSPServer) == 0 && len(cert.CRLDistributionPoints) == 0 {
		fails = append(fails, "the certificate names neither an OCSP responder nor a CRL distribution point")
	}
	if unknown.Status == Unknown {
		return unknown, fails
	}
	return record{Status: Unavailable, CheckedAt: now.UTC()}, fails
}

func httpURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("not an http(s) URL")
	}
	return nil
}

func (c *Client) askOCSP(ctx context.Context, u string, cert, issuer *x509.Certificate, now time.Time) (record, error) {
	if err := httpURL(u); err != nil {
		return record{}, err
	}
	// SHA-1 CertID: the one every responder understands (RFC 5019).
	reqDER, err := ocsp.CreateRequest(cert, issuer, nil)
	if err != nil {
		return record{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(reqDER))
	if err != nil {
		return record{}, err
	}
	req.Header.Set("Content-Type", "application/ocsp-request")
	req.Header.Set("Accept", "application/ocsp-response")
	body, err := c.fetch(req, maxOCSPBytes)
	if err != nil {
		return record{}, err
	}
	resp, err := ocsp.ParseResponseForCert(body, cert, issuer)
	if err != nil {
		return record{}, fmt.Errorf("response not usable: %w", err)
	}
	// A delegated responder must be entitled to answer for the issuer
	// (RFC 6960 §4.2.2.2); the library checked its signature only.
	if rc := resp.Certificate; rc != nil && !bytes.Equal(rc.Raw, issuer.Raw) {
		ok := false
		for _, e := range rc.ExtKeyUsage {
			ok = ok || e == x509.ExtKeyUsageOCSPSigning
		}
		if !ok {
			return record{}, errors.New("the responder certificate is not authorised for OCSP signing")
		}
		if now.Before(rc.NotBefore) || now.After(rc.NotAfter) {
			return record{}, errors.New("the responder certificate is outside its validity period")
		}
	}
	if err := fresh(resp.ThisUpdate, resp.NextUpdate, now); err != nil {
		return record{}, err
	}
	rec := record{Method: MethodOCSP, Source: u, ThisUpdate: resp.ThisUpdate.UTC(), NextUpdate: resp.NextUpdate.UTC(), CheckedAt: now.UTC()}
	switch resp.Status {
	case ocsp.Good:
		rec.Status = Good
	case ocsp.Revoked:
		rec.Status, rec.RevokedAt, rec.Reason = Revoked, resp.RevokedAt.UTC(), resp.RevocationReason
	default:
		rec.Status = Unknown
	}
	return rec, nil
}

func (c *Client) askCRL(ctx context.Context, u string, cert, issuer *x509.Certificate, now time.Time) (record, error) {
	if err := httpURL(u); err != nil {
		return record{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return record{}, err
	}
	body, err := c.fetch(req, maxCRLBytes)
	if err != nil {
		return record{}, err
	}
	if blk, _ := pem.Decode(body); blk != nil {
		body = blk.Bytes
	}
	crl, err := x509.ParseRevocationList(body)
	if err != nil {
		return record{}, fmt.Errorf("not a CRL: %w", err)
	}
	// Only direct CRLs: the certificate's own issuer signs the list.
	if !bytes.Equal(crl.RawIssuer, cert.RawIssuer) {
		return record{}, fmt.Errorf("the CRL is issued by %q, not by the certificate's issuer %q: an indirect CRL, not supported", crl.Issuer, cert.Issuer)
	}
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		return record{}, fmt.Errorf("CRL not signed by the certificate's issuer: %w", err)
	}
	if err := fresh(crl.ThisUpdate, crl.NextUpdate, now); err != nil {
		return record{}, err
	}
	rec := record{Status: Good, Method: MethodCRL, Source: u, ThisUpdate: crl.ThisUpdate.UTC(), NextUpdate: crl.NextUpdate.UTC(), CheckedAt: now.UTC()}
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber != nil && e.SerialNumber.Cmp(cert.SerialNumber) == 0 {
			rec.Status, rec.RevokedAt, rec.Reason = Revoked, e.RevocationTime.UTC(), e.ReasonCode
			break
		}
	}
	return rec, nil
}

// fresh refuses an answer made in the future or past its next update.
func fresh(this, next, now time.Time) error {
	if this.After(now.Add(skew)) {
		return fmt.Errorf("the answer is dated in the future (%s)", this.UTC().Format(time.RFC3339))
	}
	if !next.IsZero() && next.Before(now.Add(-skew)) {
		return fmt.Errorf("the answer is stale: its next update was due %s", next.UTC().Format(time.RFC3339))
	}
	return nil
}

func (c *Client) fetch(req *http.Request, limit int64) ([]byte, error) {
	resp, err := c.http().Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("unreachable: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP status %d", resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("the answer is larger than %d bytes", limit)
	}
	return b, nil
}

// cacheKey names a certificate by its issuer's key and its serial, the
// pair OCSP and CRLs identify it by.
func cacheKey(cert, issuer *x509.Certificate) string {
	h := sha256.New()
	h.Write(issuer.RawSubjectPublicKeyInfo)
	h.Write([]byte{0})
	h.Write(cert.SerialNumber.Bytes())
	return "revocation:" + hex.EncodeToString(h.Sum(nil))
}

func (c *Client) cached(ctx context.Context, key string) (record, bool) {
	if c.Cache == nil {
		return record{}, false
	}
	b, _, err := c.Cache.GetValue(ctx, key)
	if err != nil {
		if !errors.Is(err, storage.ErrNotFound) {
			// The cache is an optimisation: without it the sources are asked.
			c.log().Warn("revocation cache read failed", "err", err)
		}
		return record{}, false
	}
	var rec record
	if json.Unmarshal(b, &rec) != nil || (rec.Status != Good && rec.Status != Revoked) {
		return record{}, false
	}
	return rec, true
}

// store keeps definite answers only, so a source coming back is asked
// again at once.
func (c *Client) store(ctx context.Context, key string, rec record, now time.Time) {
	if c.Cache == nil || (rec.Status != Good && rec.Status != Revoked) {
		return
	}
	ttl := c.CacheTTL
	if ttl <= 0 {
		ttl = DefaultCacheTTL
	}
	exp := now.Add(ttl)
	if !rec.NextUpdate.IsZero() && rec.NextUpdate.Before(exp) {
		exp = rec.NextUpdate
	}
	if !exp.After(now) {
		return
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return
	}
	// Another node may have stored the same answer first: either is fine.
	if err := c.Cache.CreateValue(ctx, key, b, exp); err != nil && !errors.Is(err, storage.ErrAlreadyExists) {
		c.log().Warn("revocation cache write failed", "err", err)
	}
}
