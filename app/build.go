package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"github.com/spid-idp/spid-idp/videocall"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spid-idp/spid-idp/attrauth"
	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/authflow"
	"github.com/spid-idp/spid-idp/care"
	"github.com/spid-idp/spid-idp/config"
	"github.com/spid-idp/spid-idp/demo"
	"github.com/spid-idp/spid-idp/enrolment"
	"github.com/spid-idp/spid-idp/enrolment/console"
	"github.com/spid-idp/spid-idp/enrolment/web"
	"github.com/spid-idp/spid-idp/identity/pwrules"
	"github.com/spid-idp/spid-idp/idp"
	"github.com/spid-idp/spid-idp/idp/appapi"
	"github.com/spid-idp/spid-idp/idp/authnrequest"
	"github.com/spid-idp/spid-idp/idp/binding"
	"github.com/spid-idp/spid-idp/idp/hashgate"
	"github.com/spid-idp/spid-idp/idp/password"
	"github.com/spid-idp/spid-idp/idp/regulation"
	"github.com/spid-idp/spid-idp/idp/response"
	"github.com/spid-idp/spid-idp/internal/fedtest"
	"github.com/spid-idp/spid-idp/keys"
	"github.com/spid-idp/spid-idp/keys/rollover"
	"github.com/spid-idp/spid-idp/legal"
	"github.com/spid-idp/spid-idp/lifecycle"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/oidc"
	"github.com/spid-idp/spid-idp/portal"
	"github.com/spid-idp/spid-idp/register"
	"github.com/spid-idp/spid-idp/server"
	"github.com/spid-idp/spid-idp/templates"
)

// App is the assembled IdP.
type App struct {
	Config   *config.Config
	Log      *slog.Logger
	Backends *Backends
	Keys     keys.Pair
	// Signing is the pair to sign with now and the certificates to
	// publish: Keys until a planned rollover (spid-idp keys rollover)
	// moves to another key.
	Signing *rollover.Ring
	// ExtraCerts are published next to Keys in metadata (key rollover).
	ExtraCerts []*x509.Certificate
	Audit      *audit.Logger
	SPs        *metadata.Registry
	IdP        *idp.IdP
	Flow       *authflow.Engine
	// Portal is the citizen's personal area.
	Portal *portal.Portal
	Server *server.Server
	Mux    *http.ServeMux
	Argon2 password.Params
	// HashGate bounds concurrent password hashing (security.hashing).
	HashGate *hashgate.Gate
	// Enrolment handles identity requests (recognition, verification,
	// activation).
	Enrolment *enrolment.Service
	// Lifecycle applies suspension, revocation, renewal (people's requests).
	Lifecycle *lifecycle.Service
	// Console and Care are the back office, mounted by MountBackOffice.
	Console *console.Console
	Care    *care.Handler
	// Register is the transaction register; RegisterQueue writes the
	// messages whose answer does not wait for them. Close the queue after
	// the server has stopped and before the backends.
	Register      *register.Register
	RegisterQueue *register.Queue

	// OIDC is the OpenID Provider (nil unless oidc.enabled).
	OIDC *oidc.Provider
	// AA offers the federation's Attribute Authorities to both front ends
	// (nil unless oidc.enabled or oidc.federation.attribute_authorities).
	AA *attrauth.Service
	// oidcKeys is what WatchOIDCKeys checks (zero: nothing).
	oidcKeys oidcKeyWatch

	enrolWeb *web.Handler // the citizen enrolment pages, built once
	pages    *templates.Renderer
	video    *videocall.Handler
	demoFed  *fedtest.Federation
	legal    *legal.Texts // the legal texts, loaded once
	demoSP   *demo.SP     // set by SetupDemo
}

// Pages is the IdP's page renderer, parsed once and shared by every part
// of the application (see templates.Renderer.With).
func (a *App) Pages() (*templates.Renderer, error) {
	if a.pages == nil {
		pages, err := templates.New(Brand(a.Config)...)
		if err != nil {
			return nil, fmt.Errorf("templates: %w", err)
		}
		a.pages = pages
	}
	return a.pages, nil
}

// registryLookup adapts the SP registry to the lookup the IdP uses.
type registryLookup struct{ r *metadata.Registry }

func (l registryLookup) LookupSP(ctx context.Context, entityID string) (*metadata.SP, error) {
	return l.r.Get(ctx, entityID)
}

// Argon2Params converts the configured password-hash parameters.
func Argon2Params(cfg *config.Config) password.Params {
	p := password.Default
	p.Time, p.MemoryKiB, p.Threads = cfg.Security.Argon2.Time, cfg.Security.Argon2.MemoryKiB, cfg.Security.Argon2.Threads
	return p
}

// PasswordRules converts the configured password history and lifetime.
func PasswordRules(cfg *config.Config) pwrules.Policy {
	p := pwrules.Default()
	p.HistoryCount, p.HistoryMonths, p.MaxAge = cfg.Security.Password.History, cfg.Security.Password.HistoryMonths, cfg.Security.Password.MaxAge
	return p.WithDefaults()
}

// Build assembles the IdP over opened backends. The caller owns b.
func Build(ctx context.Context, cfg *config.Config, b *Backends, log *slog.Logger) (*App, error) {
	a := &App{Config: cfg, Log: log, Backends: b, Argon2: Argon2Params(cfg)}
	// Backends opened by hand (tests) may not have opened the data key.
	if err := UnwrapDataKeys(cfg); err != nil {
		return nil, err
	}
	var err error
	if a.Keys, err = SigningKeys(cfg, log); err != nil {
		return nil, err
	}
	if a.ExtraCerts, err = ExtraCerts(cfg); err != nil {
		return nil, err
	}
	a.Audit = NewAuditLogger(b.Store, log)
	if a.Signing, err = NewSigningRing(ctx, cfg, b.Store, a.Keys, a.Audit, log); err != nil {
		return nil, err
	}
	if err := keys.CheckValidity(a.Signing.Current().Cert, time.Now()); err != nil {
		return nil, fmt.Errorf("signing certificate: %w", err)
	}
	// The mail/SMS queue first, so its log lines carry its own component.
	if _, err := b.Outbox(cfg, log); err != nil {
		return nil, err
	}
	notifier, err := LifecycleNotifier(cfg, b, log.With("component", "lifecycle"))
	if err != nil {
		return nil, err
	}
	a.Lifecycle = &lifecycle.Service{Store: b.Store, Audit: a.Audit, Notifier: notifier}
	a.SPs = metadata.NewRegistry(b.Store, metadata.RegistryOptions{
		Parse:  metadata.ParseOptions{Production: !cfg.Demo},
		Logger: log.With("component", "sp-registry"),
	})
	if err := loadSPDir(ctx, a.SPs, cfg.IdP.SPMetadataDir, cfg.Demo, log); err != nil {
		return nil, err
	}

	base := cfg.Server.BaseURL
	builder := &response.Builder{EntityID: cfg.IdP.EntityID, Keys: a.Signing.Current, AssertionLifetime: cfg.IdP.AssertionLifetime}
	checker := &authnrequest.Checker{
		IdPEntityID: cfg.IdP.EntityID,
		SSOURLs:     []string{base + idp.PathSSORedirect, base + idp.PathSSOPOST},
		SPs:         registryLookup{a.SPs},
		Replay:      b.Eph,
		PastSkew:    cfg.IdP.Request.IssueInstantPast, FutureSkew: cfg.IdP.Request.IssueInstantFuture,
		MaxRelayState: cfg.IdP.Request.MaxRelayState,
		Limits:        binding.Limits{MaxMessage: int(cfg.IdP.Request.MaxBytes), MaxBody: cfg.Server.MaxBodyBytes},
	}
	pages, err := a.Pages()
	if err != nil {
		return nil, err
	}
	cookieKeys := [][]byte{cfg.IdP.Session.CookieKey}
	if len(cfg.IdP.Session.PreviousCookieKey) > 0 {
		cookieKeys = append(cookieKeys, cfg.IdP.Session.PreviousCookieKey)
	}
	limit := cfg.Security.Hashing.MaxConcurrent
	if limit == 0 {
		limit = hashgate.DefaultLimit(a.Argon2.MemoryKiB)
	}
	a.HashGate = hashgate.New(limit, cfg.Security.Hashing.MaxWait)
	level2, appAPI, err := buildLevel2(cfg, b, a.Audit, log)
	if err != nil {
		return nil, err
	}
	alerts, err := securityAlerts(cfg, b, log)
	if err != nil {
		return nil, err
	}
	// The transaction register, sealed under the data key like the other
	// secrets at rest; the caller closes its queue after the server stops.
	regSealer, err := DataSealer(cfg)
	if err != nil {
		return nil, err
	}
	a.Register = &register.Register{Store: b.Store, Sealer: regSealer, Log: log.With("component", "register")}
	a.RegisterQueue = a.Register.NewQueue()
	rules := PasswordRules(cfg)
	a.Flow, err = authflow.New(authflow.Options{
		BaseURL: base, Store: b.Store, Eph: b.Eph,
		Pages: pages, Audit: a.Audit, Log: log.With("component", "idp"),
		Regulator: &regulation.Regulator{Store: b.Store, MaxFailures: cfg.Security.Lockout.MaxFailures,
			Window: cfg.Security.Lockout.Window, Duration: cfg.Security.Lockout.Duration},
		LoginLimiter: &regulation.Limiter{Eph: b.Eph, Max: cfg.Security.Throttle.MaxAttempts,
			Window: cfg.Security.Throttle.Window, Prefix: "login:"},
		FailureDelay:    &regulation.Delay{},
		Alerts:          alerts,
		MaxFailures:     cfg.Security.LoginMaxFailures,
		Argon2:          a.Argon2,
		PasswordRules:   &rules,
		HashGate:        a.HashGate,
		CookieKeys:      cookieKeys,
		SessionLifetime: cfg.IdP.Session.Lifetime, SessionIdle: cfg.IdP.Session.IdleTimeout,
		ConsentTimeout: cfg.IdP.ConsentTimeout,
		OwnService:     func(entityID string) bool { return entityID == base+portal.Prefix },
		PersonalArea: func(r *http.Request) (string, func(int64) error, bool) {
			if a.Portal == nil {
				return "", nil, false
			}
			return a.Portal.Holder(r)
		},
		OnAuthenticated: a.recordAuth,
		Level2:          level2,
	})
	if err != nil {
		return nil, err
	}
	a.IdP, err = idp.New(idp.Options{
		EntityID: cfg.IdP.EntityID, BaseURL: base,
		Store: b.Store, Eph: b.Eph, SPs: registryLookup{a.SPs}, Checker: checker, Builder: builder,
		Pages: pages, Audit: a.Audit, Log: log.With("component", "idp"),
		Register: a.Register, RegisterQueue: a.RegisterQueue,
		Flow:            a.Flow,
		CookieKeys:      cookieKeys,
		SessionLifetime: cfg.IdP.Session.Lifetime,
		Metadata:        a.metadataSource(),
	})
	if err != nil {
		return nil, err
	}
	if a.Enrolment, err = NewEnrolment(cfg, b, a.Audit, log); err != nil {
		return nil, err
	}
	a.Mux = http.NewServeMux()
	a.Flow.Register(a.Mux)
	a.IdP.Register(a.Mux)
	if err := a.MountLegal(pages); err != nil {
		return nil, err
	}
	if err := a.MountRecovery(pages); err != nil {
		return nil, fmt.Errorf("credential recovery: %w", err)
	}
	if err := a.SetupOIDC(ctx, pages); err != nil {
		return nil, fmt.Errorf("openid provider: %w", err)
	}
	if err := a.MountEnrolment(); err != nil {
		return nil, err
	}
	if a.Portal, err = a.SetupPortal(ctx); err != nil {
		return nil, fmt.Errorf("personal area: %w", err)
	}
	if appAPI != nil {
		a.Mux.Handle(appapi.Prefix, appAPI)
	}
	a.Mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, idp.PathSession, http.StatusFound)
	})

	metricsAddr := cfg.Server.MetricsListen
	if metricsAddr == config.MetricsOnSite {
		metricsAddr = ""
	}
	srvOpts := server.Options{
		Addr: cfg.Server.Listen, TLSCertFile: cfg.Server.TLS.CertFile, TLSKeyFile: cfg.Server.TLS.KeyFile,
		TrustedProxies:    cfg.Server.TrustedProxies,
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout,
		ReadTimeout:       cfg.Server.ReadTimeout, WriteTimeout: cfg.Server.WriteTimeout,
		IdleTimeout: cfg.Server.IdleTimeout, ShutdownTimeout: cfg.Server.ShutdownTimeout,
		MaxBodyBytes: cfg.Server.MaxBodyBytes, MaxHeaderBytes: cfg.Server.MaxHeaderBytes,
		BodyLimits:     uploadLimits(),
		RequestTimeout: cfg.Server.RequestTimeout, LongRequests: longRequests(),
		TLSMinVersion: tlsVersion(cfg.Server.TLS.MinVersion),
		HSTS:          isHTTPS(base),
		MetricsAddr:   metricsAddr, MetricsToken: string(cfg.Server.MetricsToken),
		Logger: log, Registry: prometheus.NewRegistry(), Ready: b.Ready, App: a.Mux,
		Unavailable: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_ = pages.RenderError(w, templates.Lang(r), templates.ErrorPage{Reason: templates.ReasonUnavailable})
		}),
		Failure: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_ = pages.RenderError(w, templates.Lang(r), templates.ErrorPage{Reason: templates.ReasonInternal})
		}),
		TooLarge: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_ = pages.RenderError(w, templates.Lang(r), templates.ErrorPage{Reason: templates.ReasonTooLarge})
		}),
	}
	if a.Server, err = server.New(srvOpts); err != nil {
		return nil, err
	}
	if err := a.Server.Registry().Register(a.HashGate); err != nil {
		return nil, fmt.Errorf("password hashing metrics: %w", err)
	}
	// The mail/SMS queue's depth and counters (serve runs its worker).
	if q, err := b.Outbox(cfg, log); err != nil {
		return nil, err
	} else if q != nil {
		if err := a.Server.Registry().Register(q); err != nil {
			return nil, fmt.Errorf("outbox metrics: %w", err)
		}
	}
	return a, nil
}

func isHTTPS(u string) bool {
	p, err := url.Parse(u)
	return err == nil && p.Scheme == "https"
}

// loadSPDir trusts every metadata file of the configured directory. A
// missing directory is fine in demo mode.
func loadSPDir(ctx context.Context, reg *metadata.Registry, dir string, demo bool, log *slog.Logger) error {
	if _, err := os.Stat(dir); err != nil {
		if errors.Is(err, os.ErrNotExist) && demo {
			return nil
		}
		return fmt.Errorf("idp.sp_metadata_dir: %w", err)
	}
	res, err := reg.LoadDir(ctx, dir)
	if err != nil {
		return fmt.Errorf("loading SP metadata from %s: %w", dir, err)
	}
	log.Info("SP metadata directory loaded", "dir", dir, "result", fmt.Sprintf("%+v", res))
	return nil
}

// metadataSource signs the IdP metadata at most once a minute: validUntil
// counts from the request, signing per request would be wasted work. A
// step of a key rollover (next key published, switch, retirement) makes
// it sign again at once.
func (a *App) metadataSource() func() ([]byte, error) {
	var (
		mu     sync.Mutex
		cached []byte
		at     time.Time
		certs  []*x509.Certificate
	)
	return func() ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		published := a.Signing.Published()
		if cached != nil && time.Since(at) < time.Minute && slices.EqualFunc(certs, published, (*x509.Certificate).Equal) {
			return cached, nil
		}
		md, err := metadata.BuildIdP(IdPMetadataOptions(a.Config, a.Signing.Current(), a.publishedExtra(published)...))
		if err != nil {
			return nil, err
		}
		cached, at, certs = md, time.Now(), published
		return md, nil
	}
}

// publishedExtra are the certificates the metadata lists besides the
// signing one: the other key of a rollover under way, then
// idp.signing.extra_cert_files not already among them.
func (a *App) publishedExtra(published []*x509.Certificate) []*x509.Certificate {
	out := slices.Clone(published[1:])
	for _, c := range a.ExtraCerts {
		if !slices.ContainsFunc(published, c.Equal) {
			out = append(out, c)
		}
	}
	return out
}

// IdPCerts are the certificates the IdP's own SPs (personal area, demo SP)
// accept on its Responses: those its metadata publishes now.
func (a *App) IdPCerts() []*x509.Certificate {
	published := a.Signing.Published()
	return append(published, a.publishedExtra(published)[len(published)-1:]...)
}

func tlsVersion(v string) uint16 {
	if v == "1.3" {
		return tls.VersionTLS13
	}
	return tls.VersionTLS12
}
