// Package app assembles the IdP from its configuration: storage backends,
// keys, audit log, SP registry, the SAML handlers and the HTTP server. The
// `serve` command and the end-to-end tests build the same thing through it.
package app

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"github.com/spid-idp/spid-idp/keys/pkcs11"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/config"
	"github.com/spid-idp/spid-idp/keys"
	"github.com/spid-idp/spid-idp/notify/queue"
	"github.com/spid-idp/spid-idp/server/requestctx"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/storage/memory"
	"github.com/spid-idp/spid-idp/storage/postgres"
	"github.com/spid-idp/spid-idp/storage/redis"
	"github.com/spid-idp/spid-idp/storage/sqlite"
)

// NewLogger builds the process logger from the log settings: every line
// carries the request ID of its context.
func NewLogger(cfg config.Log, w *os.File) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.SlogLevel()}
	var h slog.Handler
	if cfg.Format == "json" {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(requestctx.LogHandler{Handler: h})
}

// Backends are the opened storage backends.
type Backends struct {
	Store storage.Store
	Eph   storage.Ephemeral

	// The mail/SMS queue over Store, made by the first sender (Outbox).
	outboxOnce sync.Once
	outbox     *queue.Queue
	outboxErr  error
}

// OpenStore opens the durable store the configuration names.
func OpenStore(ctx context.Context, cfg *config.Config) (storage.Store, error) {
	switch cfg.Storage.Driver {
	case "postgres":
		s, err := postgres.OpenWith(ctx, string(cfg.Storage.Postgres.DSN), postgres.Options{
			MaxConns: cfg.Storage.Postgres.MaxConns, Timeout: cfg.Storage.Postgres.Timeout})
		if err != nil {
			return nil, err
		}
		return s, nil
	default:
		if err := os.MkdirAll(filepath.Dir(cfg.Storage.SQLite.Path), 0o700); err != nil {
			return nil, fmt.Errorf("sqlite: creating directory for %s: %w", cfg.Storage.SQLite.Path, err)
		}
		s, err := sqlite.Open(ctx, cfg.Storage.SQLite.Path)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
}

// OpenBackends opens the durable and the ephemeral store.
func OpenBackends(ctx context.Context, cfg *config.Config) (*Backends, error) {
	// The data key first: without it nothing sealed at rest opens.
	if err := UnwrapDataKeys(cfg); err != nil {
		return nil, err
	}
	st, err := OpenStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	b := &Backends{Store: st}
	switch cfg.Cache.Driver {
	case "redis":
		r := cfg.Cache.Redis
		eph, err := redis.Open(ctx, redis.Options{Addr: r.Addr, Username: r.Username, Password: string(r.Password),
			SentinelAddrs: r.SentinelAddrs, MasterName: r.MasterName, SentinelPassword: string(r.SentinelPassword),
			DB: r.DB, KeyPrefix: r.KeyPrefix, TLS: r.TLS, Timeout: r.Timeout})
		if err != nil {
			st.Close()
			return nil, err
		}
		b.Eph = eph
	default:
		b.Eph = memory.New()
	}
	// Single-use marks live in the database, not the cache: a Redis that
	// restarts empty (or a restarted single node's memory) must not make an
	// answered AuthnRequest or consent form valid again.
	if su, ok := st.(storage.SingleUse); ok {
		b.Eph = storage.DurableSingleUse(b.Eph, su)
	}
	return b, nil
}

// Ready makes a round trip to both backends, at the same time, so a
// probe waits for the slower one only.
func (b *Backends) Ready(ctx context.Context) error {
	cache := make(chan error, 1)
	go func() { cache <- b.Eph.Ping(ctx) }()
	var errs []error
	if err := b.Store.Ping(ctx); err != nil {
		errs = append(errs, fmt.Errorf("database: %w", err))
	}
	if err := <-cache; err != nil {
		errs = append(errs, fmt.Errorf("cache: %w", err))
	}
	return errors.Join(errs...)
}

// Close closes both backends.
func (b *Backends) Close() error {
	return errors.Join(b.Eph.Close(), b.Store.Close())
}

// SigningKeys loads the signing key pair; in demo mode it is generated on
// first start and kept under the data directory.
func SigningKeys(cfg *config.Config, log *slog.Logger) (keys.Pair, error) {
	s := cfg.IdP.Signing
	if s.PKCS11Label != "" {
		return hsmSigningKeys(cfg)
	}
	if !cfg.Demo {
		return keys.Load(s.KeyFile, s.CertFile)
	}
	p, generated, err := keys.LoadOrGenerate(s.KeyFile, s.CertFile, keys.GenerateOptions{
		CommonName:             cfg.IdP.Name,
		Locality:               "Roma",
		OrganizationIdentifier: "VATIT-" + demoVAT[2:],
		OrganizationName:       orDefault(cfg.IdP.Organization.Name.IT, "SPID IdP dimostrativo"),
		EntityID:               cfg.IdP.EntityID,
		ValidFor:               2 * 365 * 24 * time.Hour,
	})
	if err != nil {
		return keys.Pair{}, fmt.Errorf("demo signing key: %w", err)
	}
	if generated {
		log.Info("generated a demo signing key", "key", s.KeyFile, "cert", s.CertFile)
	}
	return p, nil
}

// demoVAT is a syntactically valid, made-up VAT number for demo metadata.
const demoVAT = "IT00000000000"

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// NewAuditLogger writes audit records to the store.
func NewAuditLogger(st storage.Store, log *slog.Logger) *audit.Logger {
	return &audit.Logger{Store: st, Log: log.With("component", "audit")}
}

// derive32 makes a 32-byte key for one purpose from the cookie key.
func derive32(master []byte, purpose string) []byte {
	m := hmac.New(sha256.New, master)
	m.Write([]byte("spid-idp/" + purpose))
	return m.Sum(nil)
}

// hsmSigningKeys is the signing pair whose key stays in the HSM: found by
// its label in the token, checked against the certificate file.
func hsmSigningKeys(cfg *config.Config) (keys.Pair, error) {
	tok, err := HSMToken(cfg)
	if err != nil {
		return keys.Pair{}, err
	}
	s := cfg.IdP.Signing
	signer, err := tok.Signer(s.PKCS11Label)
	if err != nil {
		return keys.Pair{}, fmt.Errorf("idp.signing.pkcs11_label: %w", err)
	}
	certPEM, err := os.ReadFile(s.CertFile)
	if err != nil {
		return keys.Pair{}, fmt.Errorf("idp.signing.cert_file: %w", err)
	}
	cert, err := keys.ParseCertificate(certPEM)
	if err != nil {
		return keys.Pair{}, fmt.Errorf("idp.signing.cert_file: %w", err)
	}
	if err := keys.Match(signer, cert); err != nil {
		return keys.Pair{}, fmt.Errorf("idp.signing.pkcs11_label %q and idp.signing.cert_file: %w", s.PKCS11Label, err)
	}
	return keys.Pair{Key: signer, Cert: cert}, nil
}

var (
	hsmMu     sync.Mutex
	hsmTokens = map[pkcs11.Config]*pkcs11.Token{}
)

// HSMToken is the open token of security.pkcs11, opened once per process
// (a PKCS#11 module is initialised once; every App of the process shares
// its sessions) and kept open while the process runs.
func HSMToken(cfg *config.Config) (*pkcs11.Token, error) {
	h := cfg.Security.PKCS11
	c := pkcs11.Config{Module: h.Module, TokenLabel: h.TokenLabel, PIN: string(h.PIN)}
	hsmMu.Lock()
	defer hsmMu.Unlock()
	if t, ok := hsmTokens[c]; ok {
		return t, nil
	}
	t, err := pkcs11.Open(c)
	if err != nil {
		return nil, fmt.Errorf("security.pkcs11: %w", err)
	}
	hsmTokens[c] = t
	return t, nil
}
