package config

import (
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/spid-idp/spid-idp/keys/pkcs11"
	"io/fs"
	"net"
	"net/mail"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/enrolment/pos"
	"github.com/spid-idp/spid-idp/enrolment/workinghours"
	"github.com/spid-idp/spid-idp/keys"
)

// Safe floors. argon2id: OWASP's minimum is m = 19 MiB with t = 2 (t = 1
// only from m = 46 MiB); the cap stops a typo from exhausting memory at the
// first login.
const (
	minArgonMemoryKiB     = 19 * 1024
	argonOnePassMemoryKiB = 46 * 1024
	maxArgonMemoryKiB     = 4 * 1024 * 1024
	maxEntityIDLen        = 1024
	minRelayState         = 80 // SAML bindings let SPs send up to 80 bytes
	maxRelayState         = 8192
	minCookieKeyBytes     = 32
	dataKeyBytes          = 32
)

var knownSchemes = map[string]bool{
	"mysql": true, "mariadb": true, "sqlite": true, "sqlite3": true, "file": true, "redis": true, "rediss": true,
	"http": true, "https": true, "mongodb": true, "sqlserver": true, "jdbc": true, "postgis": true, "pgsql": true, "tcp": true, "unix": true,
}

var (
	vatRE       = regexp.MustCompile(`^IT[0-9]{11}$`)
	telephoneRE = regexp.MustCompile(`^\+[0-9]{6,15}$`)
	fiscalRE    = regexp.MustCompile(`^([0-9]{11}|[A-Z0-9]{16})$`)
)

func validate(c *Config, ps *problemSet) {
	v := &validator{c: c, ps: ps}
	v.durations()
	v.server()
	v.log()
	v.storage()
	v.cache()
	v.idp()
	v.security()
	v.senders()
	v.enrolment()
	v.oidc()
	v.legal()
}

func (v *validator) legal() {
	if d := v.c.Legal.Dir; d != "" {
		v.dirExists("legal.dir", d)
	}
	if _, err := time.Parse(time.DateOnly, v.c.Legal.Updated); err != nil {
		v.add("legal.updated", "must be a date as YYYY-MM-DD, got %q", clip(v.c.Legal.Updated))
	}
	if v.c.Recovery.MaxRequests < 1 {
		v.add("recovery.max_requests", "must be 1 or more, got %d", v.c.Recovery.MaxRequests)
	}
}

// maxGrantTokenLifetime caps oidc.grant_token_lifetime [DEC]: a grant token
// is presented to its AA right after the login, and whoever holds a copy
// can use it until it expires.
const maxGrantTokenLifetime = time.Hour

func (v *validator) oidc() {
	o := &v.c.OIDC
	// Grant tokens exist with or without the OP (SAML's
	// RequiredAttributeAuthority, oidc.federation.attribute_authorities).
	if d := o.GrantTokenLifetime; d > 0 && (d%time.Second != 0 || d > maxGrantTokenLifetime) {
		v.add("oidc.grant_token_lifetime", "must be whole seconds from 1s to %s, got %s", maxGrantTokenLifetime, d)
	}
	if !o.Enabled {
		if o.Federation.AttributeAuthorities && !v.c.Demo {
			v.trustAnchors("is required when oidc.federation.attribute_authorities is true: at least one ENTITY_ID|JWKS_FILE")
		}
		return
	}
	if o.Issuer != "" {
		v.absURL("oidc.issuer", o.Issuer, !v.c.Demo)
		if u, err := url.Parse(o.Issuer); err == nil && (u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(o.Issuer, "/")) {
			v.add("oidc.issuer", "must have no query, fragment or trailing slash, got %q", clip(o.Issuer))
		}
		if base := strings.TrimRight(v.c.Server.BaseURL, "/"); base != "" && !strings.HasPrefix(o.Issuer, base+"/") {
			v.add("oidc.issuer", "must be under server.base_url (%s/...), got %q", clip(base), clip(o.Issuer))
		}
	}
	if !oidcUseCase(o.RefreshUseCase) {
		v.add("oidc.refresh_use_case", "must be CU1, CU2 or CU3, got %q", clip(o.RefreshUseCase))
	}
	for i, it := range o.RefreshUseCaseClients {
		id, uc, ok := strings.Cut(it, "|")
		if !ok || id == "" || !oidcUseCase(uc) {
			v.add(fmt.Sprintf("oidc.refresh_use_case_clients[%d]", i), "must be CLIENT_ID|CU1, CLIENT_ID|CU2 or CLIENT_ID|CU3, got %q", clip(it))
		}
	}
	if v.c.Demo {
		return // the demo federation supplies the rest
	}
	v.key("oidc.pairwise_key", o.PairwiseKey, 32, false)
	if o.FederationKeyFile == "" {
		v.add("oidc.federation_key_file", "is required when oidc.enabled is true")
	} else {
		v.fileExists("oidc.federation_key_file", o.FederationKeyFile)
	}
	for i, f := range o.FederationPublishedKeyFiles {
		v.fileExists(fmt.Sprintf("oidc.federation_published_key_files[%d]", i), f)
		if f == o.FederationKeyFile {
			v.add(fmt.Sprintf("oidc.federation_published_key_files[%d]", i), "must differ from oidc.federation_key_file, which is published already")
		}
	}
	if len(o.SigningKeyFiles) == 0 {
		v.add("oidc.signing_key_files", "is required when oidc.enabled is true: at least one key file")
	}
	for i, f := range o.SigningKeyFiles {
		v.fileExists(fmt.Sprintf("oidc.signing_key_files[%d]", i), f)
		if f == o.FederationKeyFile {
			v.add(fmt.Sprintf("oidc.signing_key_files[%d]", i), "must differ from oidc.federation_key_file (federation and core keys are separate)")
		}
	}
	f := &o.Federation
	v.trustAnchors("is required when oidc.enabled is true: at least one ENTITY_ID|JWKS_FILE")
	for i, h := range f.AuthorityHints {
		v.absURL(fmt.Sprintf("oidc.federation.authority_hints[%d]", i), h, true)
	}
	if f.TrustMarksFile != "" {
		v.fileExists("oidc.federation.trust_marks_file", f.TrustMarksFile)
	}
	if f.PolicyURI == "" {
		v.add("oidc.federation.policy_uri", "is required when oidc.enabled is true")
	}
	v.absURL("oidc.federation.policy_uri", f.PolicyURI, true)
	if f.LogoURI == "" || !strings.HasSuffix(f.LogoURI, ".svg") {
		v.add("oidc.federation.logo_uri", "must be the https:// URL of an SVG logo ending in .svg, got %q", clip(f.LogoURI))
	} else {
		v.absURL("oidc.federation.logo_uri", f.LogoURI, true)
	}
	if len(f.Contacts) == 0 {
		v.add("oidc.federation.contacts", "needs at least one e-mail address (defaults to idp.contact.email)")
	}
	for i, c := range f.Contacts {
		if _, err := mail.ParseAddress(c); err != nil {
			v.add(fmt.Sprintf("oidc.federation.contacts[%d]", i), "must be an e-mail address, got %q", clip(c))
		}
	}
}

// trustAnchors checks oidc.federation.trust_anchors, which the OP and the
// Attribute Authority registry both need; missing says why when empty.
func (v *validator) trustAnchors(missing string) {
	tas := v.c.OIDC.Federation.TrustAnchors
	if len(tas) == 0 {
		v.add("oidc.federation.trust_anchors", "%s", missing)
	}
	for i, ta := range tas {
		path := fmt.Sprintf("oidc.federation.trust_anchors[%d]", i)
		id, file, ok := strings.Cut(ta, "|")
		if !ok || id == "" || file == "" {
			v.add(path, "must be ENTITY_ID|JWKS_FILE, got %q", clip(ta))
			continue
		}
		v.absURL(path, id, true)
		v.fileExists(path, file)
	}
}

func (v *validator) senders() {
	m := &v.c.Mail
	v.oneOf("mail.driver", m.Driver, "outbox", "smtp")
	v.oneOf("mail.smtp.tls", m.SMTP.TLS, "starttls", "tls", "none")
	if m.Driver == "smtp" && m.SMTP.Host == "" {
		v.ps.addRelated("mail.smtp.host", "mail.driver", "is required when mail.driver is smtp")
	}
	if m.SMTP.Port < 0 || m.SMTP.Port > 65535 {
		v.add("mail.smtp.port", "must be between 0 and 65535, got %d", m.SMTP.Port)
	}
	sm := &v.c.SMS
	v.oneOf("sms.driver", sm.Driver, "outbox", "http")
	if sm.Driver == "http" {
		if sm.HTTP.URL == "" {
			v.ps.addRelated("sms.http.url", "sms.driver", "is required when sms.driver is http")
		} else {
			v.absURL("sms.http.url", sm.HTTP.URL, !v.c.Demo)
		}
	}
}

func (v *validator) enrolment() {
	e := &v.c.Enrolment
	if e.Responsible == "" {
		v.add("enrolment.responsible", "is required outside demo mode: the person responsible for identity verification")
	}
	if e.CNSListen != "" {
		v.hostPort("enrolment.cns_listen", e.CNSListen, true)
		if e.CNSCAFile == "" {
			v.ps.addRelated("enrolment.cns_ca_file", "enrolment.cns_listen", "is required when enrolment.cns_listen is set")
		}
	}
	if e.CNSListen != "" && e.CNSListen == v.c.Server.Listen {
		v.add("enrolment.cns_listen", "must differ from server.listen (%s): client-certificate TLS needs its own port or host", clip(e.CNSListen))
	}
	v.certBundle("enrolment.cns_ca_file", e.CNSCAFile)
	v.certBundle("enrolment.signature_trust_file", e.SignatureTrustFile)
	v.certBundle("enrolment.tsa_trust_file", e.TSATrustFile)
	if (e.CNSCertFile == "") != (e.CNSKeyFile == "") {
		v.ps.addRelated("enrolment.cns_cert_file", "enrolment.cns_key_file", "and enrolment.cns_key_file go together: set both or neither")
	} else if e.CNSCertFile != "" {
		v.fileExists("enrolment.cns_cert_file", e.CNSCertFile)
		v.fileExists("enrolment.cns_key_file", e.CNSKeyFile)
		if !v.ps.flagged["enrolment.cns_cert_file"] && !v.ps.flagged["enrolment.cns_key_file"] {
			if _, err := tls.LoadX509KeyPair(e.CNSCertFile, e.CNSKeyFile); err != nil {
				v.add("enrolment.cns_cert_file", "does not make a usable pair with enrolment.cns_key_file: %s", strings.TrimPrefix(err.Error(), "tls: "))
			}
		}
	} else if e.CNSListen != "" && !v.c.Demo && v.c.Server.TLS.CertFile == "" {
		v.ps.addRelated("enrolment.cns_cert_file", "enrolment.cns_listen", "is required when enrolment.cns_listen is set and server.tls is empty (behind a proxy): the CNS listener terminates TLS itself")
	}
	if e.CNSPublicURL != "" {
		v.absURL("enrolment.cns_public_url", e.CNSPublicURL, true)
	}
	if e.SignatureMaxAttempts < 1 {
		v.add("enrolment.signature_max_attempts", "must be 1 or more, got %d", e.SignatureMaxAttempts)
	}
	if e.CNSMaxAttempts < 1 {
		v.add("enrolment.cns_max_attempts", "must be 1 or more, got %d", e.CNSMaxAttempts)
	}
	v.oneOf("enrolment.revocation", e.Revocation, "hard", "soft")
	if e.Price < 0 {
		v.add("enrolment.price_cents", "must be 0 or more, got %d", e.Price)
	}
	if e.VideoRoomURL != "" {
		v.absURL("enrolment.video_room_url", strings.ReplaceAll(e.VideoRoomURL, "{code}", "CODE"), true)
	}
	if e.PointsOfService != "" {
		if _, err := pos.Load(e.PointsOfService); err != nil {
			v.add("enrolment.points_of_service", "%s: %s", clip(e.PointsOfService), strings.ReplaceAll(err.Error(), "\n", "; "))
		}
	}
	// The verification clock reads these at start-up (app.Calendar) with
	// the same parsers, so what passes here is what serve accepts.
	for i, d := range e.ExtraClosedDays {
		if _, err := workinghours.ParseDate(d); err != nil {
			v.add(fmt.Sprintf("enrolment.extra_closed_days[%d]", i), "must be a day as \"MM-DD\" (every year) or \"YYYY-MM-DD\" (once), got %q, which does not exist", clip(d))
		}
	}
	if e.OfficeHours != "" {
		if _, err := workinghours.ParseOfficeHours(e.OfficeHours); err != nil {
			v.add("enrolment.office_hours", "must be \"HH:MM-HH:MM\" with the start before the end, e.g. \"08:30-19:00\", got %q", clip(e.OfficeHours))
		}
	}
	v.videoHours()
}

// Bounds of one video-call appointment (videocall.MinLength, MaxLength).
const minVideoMinutes, maxVideoMinutes = 10, 120

// videoHours checks the video calls' service hours with the parsers the
// booking reads them with at start-up (app.VideoHours).
func (v *validator) videoHours() {
	e := &v.c.Enrolment
	if _, err := workinghours.ParseWeekdays(e.VideoDays); err != nil {
		v.add("enrolment.video_days", "must list days of the week among mon, tue, wed, thu, fri, sat, sun, each once, e.g. [mon, tue, wed, thu, fri], got %q", clip(strings.Join(e.VideoDays, ", ")))
	}
	oh, err := workinghours.ParseOfficeHours(e.VideoHours)
	if err != nil {
		v.add("enrolment.video_hours", "must be \"HH:MM-HH:MM\" with the opening before the closing, e.g. \"08:00-20:00\", got %q", clip(e.VideoHours))
	}
	if len(e.VideoSlotMinutes) == 0 {
		v.add("enrolment.video_slot_minutes", "must list at least one appointment length in minutes, e.g. [20, 30]")
	}
	seen := map[int]bool{}
	for i, m := range e.VideoSlotMinutes {
		n, err := strconv.Atoi(strings.TrimSpace(m))
		p := fmt.Sprintf("enrolment.video_slot_minutes[%d]", i)
		switch {
		case err != nil || n < minVideoMinutes || n > maxVideoMinutes:
			v.add(p, "must be a whole number of minutes from %d to %d, got %q", minVideoMinutes, maxVideoMinutes, clip(m))
		case seen[n]:
			v.add(p, "repeats %d minutes; list each length once", n)
		case oh != nil && time.Duration(n)*time.Minute > oh.End-oh.Start:
			v.add(p, "is %d minutes, longer than the service hours %s", n, oh)
		}
		seen[n] = true
	}
	if e.VideoRetention > 0 && e.VideoRetention < 24*time.Hour {
		// Shorter would delete the day's past appointments from the agenda.
		v.add("enrolment.video_retention", "must be at least one day (\"1d\"), got %q", e.VideoRetention.String())
	}
}

type validator struct {
	c  *Config
	ps *problemSet
	// pkcs11Checked: the HSM settings were checked for one option already.
	pkcs11Checked bool
}

func (v *validator) add(path, format string, args ...any) { v.ps.add(path, format, args...) }

// durations refuses zero or negative values for every duration option: none
// of them has a meaningful "off" value.
func (v *validator) durations() {
	root := reflect.ValueOf(v.c).Elem()
	for _, f := range schema().leaves {
		if f.typ != durationType {
			continue
		}
		if d := root.FieldByIndex(f.index).Interface().(time.Duration); d <= 0 {
			v.add(f.path, "must be a positive duration like \"30s\", got %q", d.String())
		}
	}
}

func (v *validator) server() {
	s := &v.c.Server
	switch {
	case s.BaseURL == "":
		v.add("server.base_url", "is required outside demo mode: the public https:// URL of the IdP")
	default:
		u, err := url.Parse(s.BaseURL)
		switch {
		case err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https"):
			v.add("server.base_url", "must be an absolute http(s) URL like \"https://idp.example.it\", got %q", clip(s.BaseURL))
		case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
			v.add("server.base_url", "must not contain a query, fragment or user name, got %q", clip(s.BaseURL))
		case !v.c.Demo && u.Scheme != "https":
			v.add("server.base_url", "must be an https:// URL outside demo mode, got %q", clip(s.BaseURL))
		case !v.c.Demo && u.Port() != "":
			// The personal area is an SP whose entityID and endpoints are
			// built from base_url, and SP metadata may not name a port in
			// production (the same rule serve applies when it registers it).
			v.add("server.base_url", "must not carry an explicit port outside demo mode: SPs and the personal area's own SP metadata need https:// on the default port, got %q", clip(s.BaseURL))
		}
	}
	v.hostPort("server.listen", s.Listen, true)

	if (s.TLS.CertFile == "") != (s.TLS.KeyFile == "") {
		if s.TLS.CertFile == "" {
			v.ps.addRelated("server.tls.cert_file", "server.tls.key_file", "is required when server.tls.key_file is set (set both or neither)")
		} else {
			v.ps.addRelated("server.tls.key_file", "server.tls.cert_file", "is required when server.tls.cert_file is set (set both or neither)")
		}
	} else if s.TLS.CertFile != "" {
		v.fileExists("server.tls.cert_file", s.TLS.CertFile)
		v.fileExists("server.tls.key_file", s.TLS.KeyFile)
		v.tlsPair()
	}
	v.oneOf("server.tls.min_version", s.TLS.MinVersion, "1.2", "1.3")
	for i, p := range s.TrustedProxies {
		// Trusting every address lets any client forge X-Forwarded-For and
		// so dodge per-IP rate limits and falsify the audit trail.
		if p.Bits() == 0 {
			v.add(fmt.Sprintf("server.trusted_proxies[%d]", i), "trusts every address, so any client could forge X-Forwarded-For; list the proxies' own addresses, got %q", p.String())
		}
	}

	if s.MaxHeaderBytes < 4096 {
		v.add("server.max_header_bytes", "must be at least 4096 (4KiB), got %d", s.MaxHeaderBytes)
	}
	if s.MaxBodyBytes < 4096 {
		v.add("server.max_body_bytes", "must be at least 4096 (4KiB), got %d", s.MaxBodyBytes)
	}
	v.metrics()
	if s.ReadHeaderTimeout > s.ReadTimeout && s.ReadTimeout > 0 {
		v.add("server.read_header_timeout", "must not exceed server.read_timeout (%s), got %s", s.ReadTimeout, s.ReadHeaderTimeout)
	}
}

// metrics checks where /metrics and the profiler are served: never on the
// public listener of a production server without a token.
func (v *validator) metrics() {
	s := &v.c.Server
	if s.MetricsToken != "" && len(s.MetricsToken) < 32 {
		v.add("server.metrics_token", "must be at least 32 characters (openssl rand -base64 32), got %d", len(s.MetricsToken))
	}
	if strings.ContainsAny(string(s.MetricsToken), " \t\r\n") {
		v.add("server.metrics_token", "must not contain spaces or line breaks")
	}
	if s.MetricsListen == MetricsOnSite {
		if !v.c.Demo && s.MetricsToken == "" {
			v.ps.addRelated("server.metrics_token", "server.metrics_listen", "is required when server.metrics_listen is site outside demo mode (else /metrics is public); or give metrics_listen a private host:port")
		}
		return
	}
	v.hostPort("server.metrics_listen", s.MetricsListen, true)
	if s.MetricsListen == s.Listen {
		v.add("server.metrics_listen", "must differ from server.listen (%s); write site to serve /metrics on the public listener", clip(s.Listen))
	}
}

func (v *validator) log() {
	v.oneOf("log.level", v.c.Log.Level, "debug", "info", "warn", "error")
	v.oneOf("log.format", v.c.Log.Format, "text", "json")
}

func (v *validator) storage() {
	s := &v.c.Storage
	if v.c.DataDir == "" {
		v.add("data_dir", "must not be empty")
	}
	v.oneOf("storage.driver", s.Driver, "sqlite", "postgres")
	switch s.Driver {
	case "sqlite":
		// A database URL in the file path would create a file named after
		// it and run on SQLite without a word: say which driver it needs.
		if scheme, _, ok := strings.Cut(s.SQLite.Path, "://"); ok && (knownSchemes[strings.ToLower(scheme)] || strings.HasPrefix(strings.ToLower(scheme), "postgres")) {
			v.add("storage.sqlite.path", "is a %s:// address but storage.driver is %q; set storage.driver to postgres and the address in storage.postgres.dsn", strings.ToLower(scheme), s.Driver)
		}
		if s.Postgres.DSN != "" {
			v.add("storage.postgres.dsn", "is set but storage.driver is %q; set storage.driver to postgres, or remove the dsn", s.Driver)
		}
	case "postgres":
		if s.Postgres.DSN == "" {
			v.ps.addRelated("storage.postgres.dsn", "storage.driver", "is required when storage.driver is postgres")
		} else if msg := checkDSN(string(s.Postgres.DSN)); msg != "" {
			v.add("storage.postgres.dsn", "%s", msg)
		}
	}
	if s.Postgres.MaxConns < 1 || s.Postgres.MaxConns > 1000 {
		v.add("storage.postgres.max_conns", "must be between 1 and 1000, got %d", s.Postgres.MaxConns)
	}
}

// checkDSN recognises the two forms pgx accepts. The message may name the
// scheme but never any other part of the value (it holds a password).
func checkDSN(dsn string) string {
	if scheme, _, ok := strings.Cut(dsn, "://"); ok {
		if scheme != "postgres" && scheme != "postgresql" {
			// Name the scheme only when it is a well-known one: whatever
			// precedes "://" could be a pasted password.
			if knownSchemes[strings.ToLower(scheme)] {
				return fmt.Sprintf("must be a postgres:// URL, got a value with scheme %q", strings.ToLower(scheme))
			}
			return "must be a postgres:// URL, got a value with another scheme"
		}
		u, err := url.Parse(dsn)
		if err != nil {
			return "must be a postgres:// URL, got a value that is not a valid URL (check that special characters in the password are percent-encoded)"
		}
		if u.Host == "" && u.Query().Get("host") == "" {
			return "must name a host, e.g. postgres://user:password@db:5432/spid, got a value without one"
		}
		return ""
	}
	if !strings.Contains(dsn, "=") {
		return "must be a postgres:// URL or key=value pairs (host=db dbname=spid …), got a value that is neither"
	}
	return ""
}

func (v *validator) cache() {
	cc := &v.c.Cache
	v.oneOf("cache.driver", cc.Driver, "memory", "redis")
	switch cc.Driver {
	case "redis":
		r := &cc.Redis
		switch {
		case len(r.SentinelAddrs) > 0:
			if r.Addr != "" {
				v.add("cache.redis.addr", "is set together with cache.redis.sentinel_addrs; remove it: the Sentinels name the primary")
			}
			for i, a := range r.SentinelAddrs {
				v.hostPort(fmt.Sprintf("cache.redis.sentinel_addrs[%d]", i), a, false)
			}
			if r.MasterName == "" {
				v.ps.addRelated("cache.redis.master_name", "cache.redis.sentinel_addrs", "is required when cache.redis.sentinel_addrs is set: the name the Sentinels monitor")
			}
		case r.MasterName != "":
			v.ps.addRelated("cache.redis.sentinel_addrs", "cache.redis.master_name", "is required when cache.redis.master_name is set: the Sentinels to ask for the primary")
		case r.Addr == "":
			v.ps.addRelated("cache.redis.addr", "cache.driver", "is required when cache.driver is redis")
		default:
			v.hostPort("cache.redis.addr", r.Addr, false)
		}
	case "memory":
		if cc.Redis.Addr != "" {
			v.add("cache.redis.addr", "is set but cache.driver is %q; set cache.driver to redis, or remove the address", cc.Driver)
		}
		if len(cc.Redis.SentinelAddrs) > 0 {
			v.add("cache.redis.sentinel_addrs", "is set but cache.driver is %q; set cache.driver to redis, or remove the addresses", cc.Driver)
		}
	}
	if cc.Redis.DB < 0 {
		v.add("cache.redis.db", "must be 0 or more, got %d", cc.Redis.DB)
	}
}

var spidCodePrefixRE = regexp.MustCompile(`^[A-Z]{4}$`)

func (v *validator) idp() {
	p := &v.c.IdP
	demo := v.c.Demo
	// entity_id defaults to base_url: a bad base_url is reported once.
	if p.EntityID != v.c.Server.BaseURL || !v.ps.flagged["server.base_url"] {
		v.absURL("idp.entity_id", p.EntityID, !demo)
	}
	if len(p.EntityID) > maxEntityIDLen {
		v.add("idp.entity_id", "must be at most %d characters, got %d", maxEntityIDLen, len(p.EntityID))
	}
	switch {
	case p.SPIDCodePrefix == "" && !demo:
		v.add("idp.spid_code_prefix", "is required outside demo mode: the 4 upper-case letters AgID assigned to the provider")
	case p.SPIDCodePrefix != "" && !spidCodePrefixRE.MatchString(p.SPIDCodePrefix):
		v.add("idp.spid_code_prefix", "must be 4 upper-case letters, got %q", clip(p.SPIDCodePrefix))
	}

	org := &p.Organization
	for _, l := range []struct {
		path string
		val  Localized
		url  bool
	}{
		{"idp.organization.name", org.Name, false},
		{"idp.organization.display_name", org.DisplayName, false},
		{"idp.organization.url", org.URL, true},
	} {
		if l.val.IT == "" {
			if !demo {
				v.add(l.path+".it", "is required outside demo mode (published in the metadata as md:Organization)")
			}
			continue
		}
		if l.url {
			v.absURL(l.path+".it", l.val.IT, false)
			v.absURL(l.path+".en", l.val.EN, false)
		}
	}

	ct := &p.Contact
	if ct.Email == "" {
		if !demo {
			v.add("idp.contact.email", "is required outside demo mode (published in the metadata as md:ContactPerson)")
		}
	} else if a, err := mail.ParseAddress(ct.Email); err != nil || a.Address != ct.Email {
		v.add("idp.contact.email", "must be a plain e-mail address like \"spid@example.it\", got %q", clip(ct.Email))
	}
	if ct.Telephone != "" && !telephoneRE.MatchString(ct.Telephone) {
		v.add("idp.contact.telephone", "must be an international number without spaces like \"+390612345678\", got %q", clip(ct.Telephone))
	}
	if ct.VATNumber == "" {
		if !demo {
			v.add("idp.contact.vat_number", "is required outside demo mode (spid:VATNumber in the metadata)")
		}
	} else if !vatRE.MatchString(ct.VATNumber) {
		v.add("idp.contact.vat_number", "must be IT followed by 11 digits like \"IT12345678901\", got %q", clip(ct.VATNumber))
	}
	if ct.FiscalCode != "" && !fiscalRE.MatchString(ct.FiscalCode) {
		v.add("idp.contact.fiscal_code", "must be 11 digits or 16 upper-case letters and digits, got %q", clip(ct.FiscalCode))
	}

	// Demo keys are generated by the server on first start; a key named
	// explicitly outside demo mode must already be there.
	signingFiles := []struct{ path, file string }{
		{"idp.signing.key_file", p.Signing.KeyFile},
		{"idp.signing.cert_file", p.Signing.CertFile},
	}
	if p.Signing.PKCS11Label != "" {
		// The key is in the HSM; only its certificate is a file.
		signingFiles = signingFiles[1:]
		v.pkcs11("idp.signing.pkcs11_label")
	}
	for _, f := range signingFiles {
		if f.file == "" {
			v.add(f.path, "is required outside demo mode")
		} else if !demo {
			v.fileExists(f.path, f.file)
		}
	}
	for i, f := range p.Signing.ExtraCertFiles {
		v.fileExists(fmt.Sprintf("idp.signing.extra_cert_files[%d]", i), f)
	}
	if !demo && p.Signing.PKCS11Label == "" {
		v.signingPair()
	}

	if p.Signing.RolloverAnnounce <= 0 {
		v.add("idp.signing.rollover_announce", "must be positive (the next certificate is published before it signs), got %s", p.Signing.RolloverAnnounce)
	}
	if p.Signing.RolloverOverlap < 0 {
		v.add("idp.signing.rollover_overlap", "must not be negative, got %s", p.Signing.RolloverOverlap)
	}
	if p.Metadata.CacheDuration > p.Metadata.ValidFor && p.Metadata.ValidFor > 0 {
		v.add("idp.metadata.cache_duration", "must not exceed idp.metadata.valid_for (%s), got %s", p.Metadata.ValidFor, p.Metadata.CacheDuration)
	}
	if !demo {
		v.dirExists("idp.sp_metadata_dir", p.SPMetadataDir)
	}
	for i, src := range p.SPSources {
		path := fmt.Sprintf("idp.sp_sources[%d]", i)
		switch {
		case (src.URL == "") == (src.File == ""):
			v.add(path, "must set exactly one of url and file")
		case src.URL != "":
			u, err := url.Parse(src.URL)
			switch {
			case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
				v.add(path+".url", "must be an http(s) URL, got %q", clip(src.URL))
			case !demo && u.Scheme != "https":
				v.add(path+".url", "must be https:// outside demo mode, got %q", clip(src.URL))
			}
		default:
			v.fileExists(path+".file", src.File)
		}
		if src.Certificate == "" {
			v.add(path+".certificate", "is required: the PEM certificate the federation operator signs the list with")
		} else {
			v.fileExists(path+".certificate", src.Certificate)
		}
		if src.Refresh < time.Minute {
			v.add(path+".refresh", "must be at least 1m, got %s", src.Refresh)
		}
	}

	r := &p.Request
	if r.MaxRelayState < minRelayState || r.MaxRelayState > maxRelayState {
		v.add("idp.request.max_relay_state", "must be between %d (what SAML promises SPs) and %d, got %d", minRelayState, maxRelayState, r.MaxRelayState)
	}
	if r.MaxBytes < 4096 || r.MaxBytes > 1<<20 {
		v.add("idp.request.max_bytes", "must be between 4096 and 1048576 (1MiB), got %d", r.MaxBytes)
	}

	s := &p.Session
	if s.IdleTimeout > s.Lifetime && s.Lifetime > 0 {
		v.add("idp.session.idle_timeout", "must not exceed idp.session.lifetime (%s), got %s", s.Lifetime, s.IdleTimeout)
	}
	v.key("idp.session.cookie_key", s.CookieKey, minCookieKeyBytes, false)
	if len(s.PreviousCookieKey) > 0 {
		v.key("idp.session.previous_cookie_key", s.PreviousCookieKey, minCookieKeyBytes, false)
		if subtle.ConstantTimeCompare(s.CookieKey, s.PreviousCookieKey) == 1 {
			v.add("idp.session.previous_cookie_key", "must differ from idp.session.cookie_key, got the same value")
		}
	}
}

func (v *validator) security() {
	s := &v.c.Security
	a := &s.Argon2
	if a.MemoryKiB < minArgonMemoryKiB {
		v.add("security.argon2.memory_kib", "must be at least %d (19 MiB, the OWASP minimum), got %d", minArgonMemoryKiB, a.MemoryKiB)
	} else if a.MemoryKiB > maxArgonMemoryKiB {
		v.add("security.argon2.memory_kib", "must be at most %d (4 GiB), got %d", maxArgonMemoryKiB, a.MemoryKiB)
	}
	switch {
	case a.Time < 1:
		v.add("security.argon2.time", "must be at least 1, got %d", a.Time)
	case a.Time < 2 && a.MemoryKiB < argonOnePassMemoryKiB:
		v.add("security.argon2.time", "must be at least 2 when security.argon2.memory_kib is below %d (46 MiB), got %d", argonOnePassMemoryKiB, a.Time)
	case a.Time > 100:
		v.add("security.argon2.time", "must be at most 100, got %d", a.Time)
	}
	if a.Threads < 1 {
		v.add("security.argon2.threads", "must be at least 1, got %d", a.Threads)
	}
	if s.Lockout.MaxFailures < 1 {
		v.add("security.lockout.max_failures", "must be at least 1, got %d", s.Lockout.MaxFailures)
	}
	if s.Password.History < 1 || s.Password.History > 24 {
		v.add("security.password.history", "must be 1 to 24, got %d", s.Password.History)
	}
	if s.Password.HistoryMonths < 1 || s.Password.HistoryMonths > 120 {
		v.add("security.password.history_months", "must be 1 to 120, got %d", s.Password.HistoryMonths)
	}
	if s.Password.MaxAge < 10*24*time.Hour {
		v.add("security.password.max_age", "must be at least 240h (10 days, longer than the 7-day reminder), got %s", s.Password.MaxAge)
	}
	if s.Throttle.MaxAttempts < 1 {
		v.add("security.throttle.max_attempts", "must be at least 1, got %d", s.Throttle.MaxAttempts)
	}
	if s.Hashing.MaxConcurrent < 0 {
		v.add("security.hashing.max_concurrent", "must be 0 (derived) or more, got %d", s.Hashing.MaxConcurrent)
	}
	if s.LoginMaxFailures < 1 {
		v.add("security.login_max_failures", "must be at least 1, got %d", s.LoginMaxFailures)
	}
	v.dataKeyWrapping()
	if len(s.DataKeyWrapped) == 0 {
		v.key("security.data_key", s.DataKey, dataKeyBytes, true)
	}
	if len(s.DataKey) > 0 && subtle.ConstantTimeCompare(s.DataKey, v.c.IdP.Session.CookieKey) == 1 {
		v.add("security.data_key", "must differ from idp.session.cookie_key (each key has one job), got the same value")
	}
	if len(s.PreviousDataKey) > 0 {
		v.key("security.previous_data_key", s.PreviousDataKey, dataKeyBytes, true)
		if subtle.ConstantTimeCompare(s.PreviousDataKey, s.DataKey) == 1 {
			v.add("security.previous_data_key", "must differ from security.data_key (it is the key being retired), got the same value")
		}
	}
}

// key checks key material; the message gives its length, never its bytes.
func (v *validator) key(path string, k Key, size int, exact bool) {
	switch {
	case len(k) == 0:
		if !v.c.Demo {
			v.add(path, "is required outside demo mode: base64 of %d random bytes (openssl rand -base64 %d)", size, size)
		}
	case exact && len(k) != size:
		v.add(path, "must be base64 of exactly %d bytes, got a value that decodes to %d bytes", size, len(k))
	case !exact && len(k) < size:
		v.add(path, "must be base64 of at least %d bytes, got a value that decodes to %d bytes", size, len(k))
	}
}

func (v *validator) oneOf(path, got string, allowed ...string) {
	for _, a := range allowed {
		if got == a {
			return
		}
	}
	msg := fmt.Sprintf("must be one of %s, got %q", strings.Join(allowed, ", "), clip(got))
	if s := suggest(got, allowed); s != "" {
		msg += fmt.Sprintf(", did you mean `%s`?", s)
	}
	v.add(path, "%s", msg)
}

func (v *validator) hostPort(path, hp string, wildcardOK bool) {
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		v.add(path, "must be host:port like \"127.0.0.1:8080\" or \"[::1]:8080\", got %q", clip(hp))
		return
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		v.add(path, "must have a port from 1 to 65535, got %q", clip(hp))
		return
	}
	if host == "" {
		if !wildcardOK {
			v.add(path, "must name a host, got %q", clip(hp))
		}
		return
	}
	if net.ParseIP(host) == nil && !validHostname(host) {
		v.add(path, "must have an IP address or a host name before the port, got %q", clip(hp))
	}
}

func validHostname(h string) bool {
	if len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// absURL requires an absolute http(s) URL, https only when httpsOnly.
func (v *validator) absURL(path, s string, httpsOnly bool) {
	if s == "" {
		return // emptiness is reported by the caller or derives from another option
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		if httpsOnly {
			v.add(path, "must be an absolute https:// URL, got %q", clip(s))
		} else {
			v.add(path, "must be an absolute http(s) URL, got %q", clip(s))
		}
		return
	}
	if httpsOnly && u.Scheme != "https" {
		v.add(path, "must be an https:// URL outside demo mode, got %q", clip(s))
	}
}

func (v *validator) fileExists(path, file string) {
	st, err := os.Stat(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		v.add(path, "names a file that does not exist: %q", clip(file))
	case err != nil:
		v.add(path, "names a file that cannot be read: %s", fileErr(err))
	case st.IsDir():
		v.add(path, "names a directory, not a file: %q", clip(file))
	case !st.Mode().IsRegular():
		// Opening a FIFO or device could block or read forever.
		v.add(path, "names something that is not a regular file: %q", clip(file))
	default:
		// Stat succeeds without read permission; the service user must be
		// able to open the file, which is what `config validate` run as
		// that user should tell.
		fh, err := os.Open(file)
		if err != nil {
			v.add(path, "names a file that cannot be read: %s", fileErr(err))
			return
		}
		fh.Close()
	}
}

func (v *validator) dirExists(path, dir string) {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		v.add(path, "names a directory that does not exist: %q", clip(dir))
	case err != nil:
		v.add(path, "names a directory that cannot be read: %s", fileErr(err))
	case !st.IsDir():
		v.add(path, "names a file, not a directory: %q", clip(dir))
	}
}

// now is the clock certificate validity is judged against.
var now = time.Now

// signingPair loads the SAML key pair the way the server will, so that a
// mismatched, weak or expired pair is caught by `config validate` rather
// than at start-up. Files already reported missing are skipped.
func (v *validator) signingPair() {
	sg := &v.c.IdP.Signing
	if !v.ps.flagged["idp.signing.key_file"] && !v.ps.flagged["idp.signing.cert_file"] {
		pair, err := keys.Load(sg.KeyFile, sg.CertFile)
		switch {
		case err != nil:
			v.add("idp.signing.key_file", "does not make a usable pair with idp.signing.cert_file: %s", strings.TrimPrefix(err.Error(), "keys: "))
		default:
			if err := keys.CheckValidity(pair.Cert, now()); err != nil {
				v.add("idp.signing.cert_file", "%s", err)
			}
		}
	}
	for i, f := range sg.ExtraCertFiles {
		path := fmt.Sprintf("idp.signing.extra_cert_files[%d]", i)
		if v.ps.flagged[path] {
			continue
		}
		cert, err := readCert(f)
		if err == nil {
			err = keys.CheckStrength(cert)
		}
		if err != nil {
			v.add(path, "%s", err)
		}
		// An expired extra certificate is harmless in metadata but is
		// surely a leftover: say so.
		if err == nil && now().After(cert.NotAfter) {
			v.add(path, "expired on %s; remove it from the list", cert.NotAfter.UTC().Format(time.RFC3339))
		}
	}
}

func (v *validator) tlsPair() {
	s := &v.c.Server.TLS
	if v.ps.flagged["server.tls.cert_file"] || v.ps.flagged["server.tls.key_file"] {
		return
	}
	pair, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
	if err != nil {
		v.add("server.tls.cert_file", "does not make a usable pair with server.tls.key_file: %s", strings.TrimPrefix(err.Error(), "tls: "))
		return
	}
	if pair.Leaf != nil && now().After(pair.Leaf.NotAfter) {
		v.add("server.tls.cert_file", "certificate expired on %s", pair.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
}

// certBundle checks that a CA bundle holds certificates, and only
// certificates that parse: an empty or damaged bundle would leave a
// recognition path trusting nobody (or less than meant).
func (v *validator) certBundle(path, file string) {
	if file == "" {
		return
	}
	v.fileExists(path, file)
	if v.ps.flagged[path] {
		return
	}
	data, err := readLimited(file)
	if err != nil {
		v.add(path, "names a file that cannot be read: %s", fileErr(err))
		return
	}
	n := 0
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			v.add(path, "holds certificate number %d that does not parse: %s", n+1, err)
			return
		}
		n++
	}
	if n == 0 {
		v.add(path, "holds no PEM certificate (-----BEGIN CERTIFICATE-----): %q", clip(file))
	}
}

func readCert(file string) (*x509.Certificate, error) {
	data, err := readLimited(file)
	if err != nil {
		return nil, err
	}
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			return nil, errors.New("holds no PEM CERTIFICATE block")
		}
		if b.Type == "CERTIFICATE" {
			cert, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("holds a certificate that does not parse: %w", err)
			}
			return cert, nil
		}
	}
}

// pkcs11 checks the HSM settings idp.signing.pkcs11_label or the wrapped
// data key need; user names the option that needs them. It reports once
// even when both need them. The token itself is opened at start-up, where
// a wrong PIN or a missing key stops the server with a message naming them.
func (v *validator) pkcs11(user string) {
	if v.pkcs11Checked {
		return
	}
	v.pkcs11Checked = true
	h := v.c.Security.PKCS11
	if !pkcs11.Available {
		v.add(user, "%s", pkcs11.ErrUnavailable)
	}
	if h.Module == "" {
		v.add("security.pkcs11.module", "is required with %s (the PKCS#11 library of the HSM)", user)
	} else {
		v.fileExists("security.pkcs11.module", h.Module)
	}
	if h.TokenLabel == "" {
		v.add("security.pkcs11.token_label", "is required with %s", user)
	}
	if h.PIN == "" {
		v.add("security.pkcs11.pin", "is required with %s (prefer SPID_IDP_SECURITY_PKCS11_PIN_FILE)", user)
	}
}

// dataKeyWrapping checks the data key wrapped by the HSM: each data key is
// given either in clear or wrapped, never both, and a wrapped one needs the
// token and the label of its wrapping key. Whether the token opens it is
// known only at start-up.
func (v *validator) dataKeyWrapping() {
	s := v.c.Security
	for _, k := range []struct {
		clear, wrapped string
		c, w           Key
	}{
		{"security.data_key", "security.data_key_wrapped", s.DataKey, s.DataKeyWrapped},
		{"security.previous_data_key", "security.previous_data_key_wrapped", s.PreviousDataKey, s.PreviousDataKeyWrapped},
	} {
		if len(k.w) == 0 {
			continue
		}
		if len(k.c) > 0 {
			v.add(k.wrapped, "set either %s (in clear) or %s (wrapped by the HSM), not both", k.clear, k.wrapped)
		}
		if want := dataKeyBytes + pkcs11.WrapOverhead; len(k.w) != want {
			v.add(k.wrapped, "must be base64 of the %d bytes spid-idp keys wrap-data-key prints, got a value that decodes to %d bytes", want, len(k.w))
		}
		if s.PKCS11.DataKeyLabel == "" {
			v.add("security.pkcs11.data_key_label", "is required with %s (the label of the HSM key that wraps it)", k.wrapped)
		}
		v.pkcs11(k.wrapped)
	}
	if len(s.PreviousDataKeyWrapped) > 0 && len(s.PreviousDataKeyWrapped) == len(s.DataKeyWrapped) &&
		subtle.ConstantTimeCompare(s.PreviousDataKeyWrapped, s.DataKeyWrapped) == 1 {
		v.add("security.previous_data_key_wrapped", "must differ from security.data_key_wrapped (it is the key being retired), got the same value")
	}
	if s.PKCS11.DataKeyLabel != "" && len(s.DataKeyWrapped) == 0 {
		v.add("security.pkcs11.data_key_label", "is set but security.data_key_wrapped is not: print it with spid-idp keys wrap-data-key, or remove the label")
	}
}

// oidcUseCase: the Avviso 41 use cases of refresh tokens (oidc-federation.md §4.3).
func oidcUseCase(s string) bool { return s == "CU1" || s == "CU2" || s == "CU3" }
