// Package config loads, checks and documents the IdP's configuration.
//
// One YAML file (optional) and SPID_IDP_* environment variables (which win)
// fill a Config. Load reports every problem at once, one line each, then
// fills defaults so the rest of the code sees a complete configuration.
// Without a file the IdP runs in demo mode: local paths, plain HTTP on
// loopback, generated keys.
//
// The struct tags are the schema: `yaml` names the option, `doc` describes
// it (Reference renders the table), `default` is a literal default parsed
// like an environment value, `defaultdoc` describes a computed default and
// `unit:"bytes"` lets an integer be written as "64KiB".
package config

import (
	"log/slog"
	"net/netip"
	"time"
)

// Config is the whole configuration. Every field is plain data; secrets use
// Secret or Key so that printing or logging them shows "[redacted]".
type Config struct {
	Server    Server    `yaml:"server" doc:"HTTP listener, TLS and reverse-proxy settings."`
	Log       Log       `yaml:"log" doc:"Application log."`
	DataDir   string    `yaml:"data_dir" default:"./data" doc:"Directory for the IdP's own files (SQLite database, demo keys). Created by the server if missing."`
	Storage   Storage   `yaml:"storage" doc:"Database for identities, sessions and the audit log."`
	Cache     Cache     `yaml:"cache" doc:"Short-lived shared state (replay cache, rate limits, login transactions)."`
	IdP       IdP       `yaml:"idp" doc:"SAML identity-provider settings."`
	Security  Security  `yaml:"security" doc:"Password hashing, lockout and encryption at rest."`
	Mail      Mail      `yaml:"mail" doc:"Outgoing e-mail (activation links, outcomes, notices)."`
	SMS       SMS       `yaml:"sms" doc:"Outgoing SMS (one-time codes)."`
	Enrolment Enrolment `yaml:"enrolment" doc:"Identity requests: recognition paths, evidence, the verification clock."`
	OIDC      OIDC      `yaml:"oidc" doc:"OpenID Provider in the SPID OpenID Connect Federation, beside SAML."`
	Legal     Legal     `yaml:"legal" doc:"Privacy notice, accessibility statement and terms of service (/privacy, /accessibility, /terms)."`
	Recovery  Recovery  `yaml:"recovery" doc:"Credential recovery (/recover): forgotten username or password, lost app."`

	// Demo is true when Load was given no file: loopback HTTP, local SQLite,
	// generated keys. Never set from YAML or the environment.
	Demo bool `yaml:"-" doc:"True when started without a configuration file (demo mode)."`
}

// Server configures the HTTP listener.
type Server struct {
	BaseURL           string         `yaml:"base_url" defaultdoc:"demo: http://127.0.0.1:8080 (follows listen); otherwise required" doc:"Public URL of the IdP as SPs and browsers see it (https:// outside demo mode). Endpoints are built from it; idp.entity_id defaults to it."`
	Listen            string         `yaml:"listen" default:"127.0.0.1:8080" doc:"host:port to listen on. Use 0.0.0.0:PORT or [::]:PORT to accept connections from other hosts."`
	TLS               TLS            `yaml:"tls" doc:"TLS terminated by the IdP itself. Leave both files empty when a reverse proxy terminates TLS."`
	TrustedProxies    []netip.Prefix `yaml:"trusted_proxies" doc:"CIDRs of reverse proxies whose X-Forwarded-For and X-Forwarded-Proto headers are believed. Empty: those headers are ignored."`
	ReadHeaderTimeout time.Duration  `yaml:"read_header_timeout" default:"5s" doc:"Time allowed to read request headers (slow-loris protection)."`
	ReadTimeout       time.Duration  `yaml:"read_timeout" default:"15s" doc:"Time allowed to read a whole request, body included."`
	WriteTimeout      time.Duration  `yaml:"write_timeout" default:"30s" doc:"Time allowed to write a response."`
	IdleTimeout       time.Duration  `yaml:"idle_timeout" default:"60s" doc:"How long an idle keep-alive connection stays open."`
	ShutdownTimeout   time.Duration  `yaml:"shutdown_timeout" default:"15s" doc:"Grace period for in-flight requests on shutdown."`
	RequestTimeout    time.Duration  `yaml:"request_timeout" default:"2500ms" doc:"Deadline of every page's dependency waits together (uploads and the app's long poll excepted): a request that runs out of it while PostgreSQL or Redis does not answer gets the 503 page, so none waits much longer."`
	MaxHeaderBytes    int            `yaml:"max_header_bytes" unit:"bytes" default:"16KiB" doc:"Largest accepted request header block, which also bounds HTTP-Redirect query strings (larger: 431)."`
	MaxBodyBytes      int64          `yaml:"max_body_bytes" unit:"bytes" default:"128KiB" doc:"Largest accepted request body (larger: 413)."`
	MetricsListen     string         `yaml:"metrics_listen" defaultdoc:"demo: site; otherwise 127.0.0.1:9090" doc:"host:port of the operations listener (plain HTTP) serving /metrics and /debug/pprof/, kept off the public one; site serves /metrics on the public listener (then metrics_token is required outside demo mode) and the profiler nowhere."`
	MetricsToken      Secret         `yaml:"metrics_token" doc:"Bearer token /metrics and /debug/pprof/ ask for (Authorization: Bearer ...), at least 32 characters; empty: none (the operations listener must then be reachable only by the scraper)."`
}

// MetricsOnSite is the server.metrics_listen value that keeps /metrics on
// the public listener.
const MetricsOnSite = "site"

// TLS names the certificate and key when the IdP terminates TLS itself.
type TLS struct {
	CertFile   string `yaml:"cert_file" doc:"PEM certificate chain for the listener. Set together with key_file."`
	KeyFile    string `yaml:"key_file" doc:"PEM private key for the listener. Set together with cert_file."`
	MinVersion string `yaml:"min_version" default:"1.2" doc:"Lowest TLS version accepted: 1.2 or 1.3 (SPID requires at least 1.2)."`
}

// Log configures the application log.
type Log struct {
	Level  string `yaml:"level" default:"info" doc:"Lowest level logged: debug, info, warn or error."`
	Format string `yaml:"format" default:"text" doc:"Log line format: text or json."`
}

// SlogLevel converts Level; Load has already rejected anything else.
func (l Log) SlogLevel() slog.Level {
	switch l.Level {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// Storage selects and configures the database.
type Storage struct {
	Driver   string   `yaml:"driver" default:"sqlite" doc:"Database: sqlite (one instance) or postgres."`
	SQLite   SQLite   `yaml:"sqlite" doc:"SQLite settings (driver sqlite)."`
	Postgres Postgres `yaml:"postgres" doc:"PostgreSQL settings (driver postgres)."`
}

// SQLite configures the embedded database.
type SQLite struct {
	Path string `yaml:"path" defaultdoc:"<data_dir>/spid-idp.db" doc:"Database file."`
}

// Postgres configures the PostgreSQL pool.
type Postgres struct {
	DSN      Secret `yaml:"dsn" doc:"Connection string, postgres://user:password@host:5432/db?sslmode=verify-full or key=value form. Required with driver postgres."`
	MaxConns int    `yaml:"max_conns" default:"10" doc:"Largest number of pooled connections."`
	// Timeout keeps a frozen database from holding requests: past it the
	// IdP answers 503 (with Retry-After) rather than waiting on TCP.
	Timeout time.Duration `yaml:"timeout" default:"2s" doc:"Longest wait on the database: connecting (unless the DSN sets connect_timeout), getting a usable connection, and each reply during a statement. Past it the operation fails and the IdP answers 503."`
}

// Cache selects and configures the short-lived shared store.
type Cache struct {
	Driver string `yaml:"driver" default:"memory" doc:"memory (one instance only) or redis (needed when several instances run behind a load balancer)."`
	Redis  Redis  `yaml:"redis" doc:"Redis settings (driver redis)."`
}

// Redis configures the Redis client.
type Redis struct {
	Addr string `yaml:"addr" doc:"host:port of the Redis server. Required with driver redis, unless sentinel_addrs is set."`
	// Sentinel: the Sentinels name the current primary and the client
	// follows it through failovers.
	SentinelAddrs    []string `yaml:"sentinel_addrs" doc:"host:port of each Redis Sentinel. Set with master_name instead of addr: the IdP asks the Sentinels for the primary and follows it through failovers."`
	MasterName       string   `yaml:"master_name" doc:"Name of the primary as the Sentinels monitor it (their 'sentinel monitor' name). Required with sentinel_addrs."`
	SentinelPassword Secret   `yaml:"sentinel_password" doc:"Password of the Sentinels themselves, if they require one (password is the data nodes')."`
	Username         string   `yaml:"username" doc:"ACL user name, if any."`
	Password         Secret   `yaml:"password" doc:"Password, if any."`
	DB               int      `yaml:"db" default:"0" doc:"Database number."`
	KeyPrefix        string   `yaml:"key_prefix" default:"spid-idp:" doc:"Prefix of every key, so one Redis can serve several applications."`
	TLS              bool     `yaml:"tls" default:"false" doc:"Connect with TLS (system roots)."`
	// Timeout keeps a frozen Redis from holding requests (503 instead).
	Timeout time.Duration `yaml:"timeout" default:"1s" doc:"Longest wait for one Redis command, connecting and retry included. Past it the operation fails and the IdP answers 503."`
}

// IdP holds the SAML identity-provider settings.
type IdP struct {
	EntityID          string        `yaml:"entity_id" defaultdoc:"server.base_url" doc:"SAML entityID of the IdP: an absolute https:// URL outside demo mode, at most 1024 characters."`
	Name              string        `yaml:"name" defaultdoc:"organization.display_name.it, else \"SPID IdP\"" doc:"Display name shown on pages and used as issuer in authenticator apps."`
	Organization      Organization  `yaml:"organization" doc:"md:Organization published in the IdP metadata (Italian required outside demo mode, English defaults to Italian)."`
	SPIDCodePrefix    string        `yaml:"spid_code_prefix" defaultdoc:"demo: DEMO; otherwise required" doc:"The 4 upper-case letters AgID assigned to this provider: every spidCode the IdP issues starts with them."`
	Contact           Contact       `yaml:"contact" doc:"md:ContactPerson (contactType other) published in the IdP metadata."`
	Signing           Signing       `yaml:"signing" doc:"Key and certificate that sign responses and metadata."`
	Metadata          Metadata      `yaml:"metadata" doc:"The IdP's own published metadata."`
	SPMetadataDir     string        `yaml:"sp_metadata_dir" defaultdoc:"<data_dir>/sp-metadata" doc:"Directory of SP metadata files (*.xml) imported into the shared SP registry at start and whenever they change. Removing a file does not remove its SP (spid-idp sp disable/remove does). Must exist outside demo mode."`
	SPSources         []SPSource    `yaml:"sp_sources" doc:"Federation SP lists: aggregated SAML metadata (EntitiesDescriptor) signed by the federation operator, loaded at start and every refresh (also by spid-idp sp sync). Each item is a mapping with url or file, certificate (PEM of the operator's signing certificate) and refresh (default 1h); in the environment variable, items are LOCATION|CERTIFICATE|REFRESH separated by commas."`
	Request           Request       `yaml:"request" doc:"Limits applied to incoming AuthnRequest and LogoutRequest messages."`
	Session           Session       `yaml:"session" doc:"SpidL1 single-sign-on session and cookies."`
	AssertionLifetime time.Duration `yaml:"assertion_lifetime" default:"5m" doc:"Validity of issued assertions (Conditions and SubjectConfirmationData NotOnOrAfter)."`
	ConsentTimeout    time.Duration `yaml:"consent_timeout" default:"10m" doc:"Time allowed from receiving an AuthnRequest to the user's consent; later the SP gets nr21."`
}

// SPSource is one federation SP list (idp.sp_sources item).
type SPSource struct {
	URL         string        `yaml:"url"`
	File        string        `yaml:"file"`
	Certificate string        `yaml:"certificate"`
	Refresh     time.Duration `yaml:"refresh"`
}

// DefaultSPSourceRefresh is how often an SP list is reloaded unless its
// refresh says otherwise.
const DefaultSPSourceRefresh = time.Hour

// Location is the URL or the file, whichever is set.
func (s SPSource) Location() string {
	if s.URL != "" {
		return s.URL
	}
	return s.File
}

// String is the environment form, LOCATION|CERTIFICATE|REFRESH.
func (s SPSource) String() string {
	return s.Location() + "|" + s.Certificate + "|" + s.Refresh.String()
}

// Localized is a text published per language.
type Localized struct {
	IT string `yaml:"it" doc:"Italian."`
	EN string `yaml:"en" defaultdoc:"the Italian text" doc:"English."`
}

// Organization is the md:Organization of the IdP metadata.
type Organization struct {
	Name        Localized `yaml:"name" doc:"OrganizationName: legal name of the IdP operator."`
	DisplayName Localized `yaml:"display_name" doc:"OrganizationDisplayName: name shown to users."`
	URL         Localized `yaml:"url" doc:"OrganizationURL: http(s) URL of the operator's site."`
}

// Contact is the md:ContactPerson of the IdP metadata.
type Contact struct {
	Email      string `yaml:"email" doc:"Role mailbox (never a person's address). Required outside demo mode."`
	Telephone  string `yaml:"telephone" doc:"Telephone number in international form without spaces, e.g. +390612345678."`
	VATNumber  string `yaml:"vat_number" doc:"spid:VATNumber: IT followed by 11 digits. Required outside demo mode."`
	FiscalCode string `yaml:"fiscal_code" doc:"spid:FiscalCode of the operator, if it differs from the VAT number."`
}

// Signing names the SAML signing key pair.
type Signing struct {
	KeyFile        string   `yaml:"key_file" defaultdoc:"demo: <data_dir>/keys/signing.key" doc:"PEM private key (RSA, at least 2048 bits). Required outside demo mode; in demo mode generated when missing."`
	CertFile       string   `yaml:"cert_file" defaultdoc:"demo: <data_dir>/keys/signing.crt" doc:"PEM certificate of the signing key, published in metadata. Required outside demo mode."`
	ExtraCertFiles []string `yaml:"extra_cert_files" doc:"More PEM certificates published in metadata during a key rollover (the next or the previous key)."`
	// Planned rollovers (spid-idp keys rollover) keep their plan in the
	// database, so every node switches at the same instant.
	PKCS11Label      string        `yaml:"pkcs11_label" doc:"Label of the signing key pair in the HSM of security.pkcs11; when set, the key signs inside the HSM and key_file is not used (cert_file still holds its certificate)."`
	RolloverAnnounce time.Duration `yaml:"rollover_announce" default:"168h" doc:"spid-idp keys rollover: how long the next certificate is published in metadata before it starts signing (unless --switch-at is given). Keep it longer than idp.metadata.cache_duration, so every SP has fetched it."`
	RolloverOverlap  time.Duration `yaml:"rollover_overlap" default:"168h" doc:"spid-idp keys rollover: how long the replaced certificate stays in metadata after the switch before it is retired."`
}

// Metadata configures the IdP's published metadata.
type Metadata struct {
	ValidFor      time.Duration `yaml:"valid_for" default:"720h" doc:"validUntil of the published metadata, counted from each request."`
	CacheDuration time.Duration `yaml:"cache_duration" default:"24h" doc:"cacheDuration of the published metadata; must be shorter than valid_for."`
}

// Request limits incoming SAML requests.
type Request struct {
	IssueInstantPast   time.Duration `yaml:"issue_instant_past" default:"2m" doc:"How far in the past a request IssueInstant may be (older: nr13)."`
	IssueInstantFuture time.Duration `yaml:"issue_instant_future" default:"30s" doc:"How far in the future a request IssueInstant may be (SP clock skew; later: nr13)."`
	MaxRelayState      int           `yaml:"max_relay_state" unit:"bytes" default:"1024" doc:"Longest accepted RelayState, in bytes (SAML promises SPs 80)."`
	MaxBytes           int64         `yaml:"max_bytes" unit:"bytes" default:"64KiB" doc:"Largest decoded (and inflated) SAML message (larger: nr04)."`
}

// Session configures the SpidL1 SSO session and the cookie keys.
type Session struct {
	Lifetime          time.Duration `yaml:"lifetime" default:"8h" doc:"Absolute lifetime of an SpidL1 SSO session."`
	IdleTimeout       time.Duration `yaml:"idle_timeout" default:"30m" doc:"An SSO session unused for this long ends; at most lifetime."`
	CookieKey         Key           `yaml:"cookie_key" defaultdoc:"demo: generated into <data_dir>/keys/cookie.key" doc:"Base64 of at least 32 random bytes authenticating and encrypting cookies (openssl rand -base64 32). Required outside demo mode."`
	PreviousCookieKey Key           `yaml:"previous_cookie_key" doc:"The cookie key being retired: cookies made with it are still accepted and re-issued. Remove once the longest cookie has expired."`
}

// Security configures credentials handling.
type Security struct {
	PKCS11           PKCS11   `yaml:"pkcs11" doc:"HSM reached through PKCS#11, for idp.signing.pkcs11_label and security.data_key_wrapped."`
	Argon2           Argon2   `yaml:"argon2" doc:"argon2id parameters for password hashes (RFC 9106 second recommended option by default)."`
	Lockout          Lockout  `yaml:"lockout" doc:"Temporary account lock after repeated failed logins."`
	Password         Password `yaml:"password" doc:"Citizens' password rules: reuse and lifetime (enrolment-lifecycle.md §7.2)."`
	Throttle         Throttle `yaml:"throttle" doc:"Rate limit on login attempts, per client network and per username, whoever the user is (credential stuffing)."`
	Hashing          Hashing  `yaml:"hashing" doc:"Bound on the password hashes computed at once: each takes security.argon2.memory_kib of memory, so a login storm must wait rather than exhaust it."`
	LoginMaxFailures int      `yaml:"login_max_failures" default:"3" doc:"Failed password or OTP attempts allowed within one login transaction before the SP gets nr19."`
	DataKey          Key      `yaml:"data_key" defaultdoc:"demo: generated into <data_dir>/keys/data.key" doc:"Base64 of exactly 32 random bytes: AES-256 key for secrets at rest (TOTP seeds). Must differ from the cookie key. Required outside demo mode."`
	PreviousDataKey  Key      `yaml:"previous_data_key" doc:"The data key being retired: values sealed with it still open. To rotate, set data_key to a new key and this to the old one, run spid-idp keys rotate-data-key, then remove this."`
	// The wrapped forms keep the data key out of the configuration: only
	// the HSM can open them, at start-up.
	DataKeyWrapped         Key `yaml:"data_key_wrapped" doc:"Instead of data_key: the data key wrapped inside the HSM by security.pkcs11.data_key_label, as printed by spid-idp keys wrap-data-key. Opened once at start-up; without the token the IdP does not start."`
	PreviousDataKeyWrapped Key `yaml:"previous_data_key_wrapped" doc:"Instead of previous_data_key: the data key being retired, wrapped by the HSM like data_key_wrapped."`
}

// Throttle limits login attempts.
type Throttle struct {
	MaxAttempts int           `yaml:"max_attempts" default:"30" doc:"Login attempts allowed per client /24 (IPv6 /64) and per username in each window; more get 429."`
	Window      time.Duration `yaml:"window" default:"1m" doc:"Length of the throttle window."`
}

// Hashing bounds concurrent password hashing.
type Hashing struct {
	MaxConcurrent int           `yaml:"max_concurrent" default:"0" doc:"Password hashes computed at once; 0 derives it: one per CPU core, and no more than a quarter of the memory available (cgroup limit, else RAM) holds. Beyond it, checks queue."`
	MaxWait       time.Duration `yaml:"max_wait" default:"2s" doc:"Longest a queued password check waits for a slot; past it the page answers 503 with Retry-After (the password counts as not checked, never as wrong)."`
}

// Argon2 holds argon2id parameters, typed as golang.org/x/crypto/argon2
// expects them.
type Argon2 struct {
	Time      uint32 `yaml:"time" default:"2" doc:"Passes over memory (t); 2 costs about 50 ms per hash on a 2-core machine (RFC 9106 suggests 3 with 64 MiB)."`
	MemoryKiB uint32 `yaml:"memory_kib" default:"65536" doc:"Memory in KiB (m); at least 19456 (19 MiB)."`
	Threads   uint8  `yaml:"threads" default:"4" doc:"Parallelism (p)."`
}

// Password configures the history and lifetime rules of citizens'
// passwords; the composition rules are fixed by the spec.
type Password struct {
	History       int           `yaml:"history" default:"5" doc:"A new password must differ from this many earlier ones (and the current one)."`
	HistoryMonths int           `yaml:"history_months" default:"15" doc:"A new password must also differ from every password used within this many months."`
	MaxAge        time.Duration `yaml:"max_age" default:"4320h" doc:"Password lifetime (180 days) counted from when it was set: reminders are e-mailed 7 and 2 days before, and a login with an expired password asks for a new one before it continues."`
}

// Lockout configures the temporary account lock.
type Lockout struct {
	MaxFailures int           `yaml:"max_failures" default:"5" doc:"Consecutive failures that lock the account: wrong passwords, wrong app codes and push requests refused in the app alike, across logins. Only a completed authentication resets the count (a right password alone never clears second-factor failures); each lock is e-mailed to the owner."`
	Window      time.Duration `yaml:"window" default:"24h" doc:"Failures older than this no longer count."`
	Duration    time.Duration `yaml:"duration" default:"30m" doc:"How long the account stays locked."`
}

// Mail configures the e-mail sender.
type Mail struct {
	Driver    string `yaml:"driver" default:"outbox" doc:"outbox (one .eml file per message under outbox_dir: demo and tests) or smtp."`
	From      string `yaml:"from" defaultdoc:"\"<idp.name> <noreply@<base_url host>>\"" doc:"Sender address of every message."`
	OutboxDir string `yaml:"outbox_dir" defaultdoc:"<data_dir>/outbox/mail" doc:"Directory of the outbox driver."`
	SMTP      SMTP   `yaml:"smtp" doc:"SMTP relay (driver smtp)."`
}

// SMTP configures the SMTP relay.
type SMTP struct {
	Host     string `yaml:"host" doc:"Relay host. Required with driver smtp."`
	Port     int    `yaml:"port" default:"0" doc:"Port; 0 picks 587 (starttls), 465 (tls) or 25 (none)."`
	Username string `yaml:"username" doc:"AUTH user name, if any."`
	Password Secret `yaml:"password" doc:"AUTH password, if any."`
	TLS      string `yaml:"tls" default:"starttls" doc:"starttls, tls (implicit) or none (loopback relays only)."`
}

// SMS configures the SMS sender.
type SMS struct {
	Driver    string  `yaml:"driver" default:"outbox" doc:"outbox (one file per message under outbox_dir: demo and tests) or http (a generic HTTP gateway)."`
	OutboxDir string  `yaml:"outbox_dir" defaultdoc:"<data_dir>/outbox/sms" doc:"Directory of the outbox driver."`
	HTTP      SMSHTTP `yaml:"http" doc:"HTTP gateway (driver http)."`
}

// SMSHTTP configures a generic HTTP SMS gateway.
type SMSHTTP struct {
	URL          string `yaml:"url" doc:"https:// endpoint the JSON body is POSTed to. Required with driver http."`
	Header       string `yaml:"header" default:"Authorization" doc:"Header carrying the token."`
	Token        Secret `yaml:"token" doc:"Value of that header (e.g. \"Bearer ...\")."`
	BodyTemplate string `yaml:"body_template" default:"{\"to\":\"{{.To}}\",\"text\":\"{{.Text}}\"}" doc:"Go text/template of the JSON body; .To and .Text arrive JSON-escaped, so put them inside quotes."`
}

// Enrolment configures identity requests.
type Enrolment struct {
	Responsible          string        `yaml:"responsible" defaultdoc:"demo: a placeholder; otherwise required" doc:"The person responsible for identity verification (DPCM art. 7 c.1), shown in the console and in outcome e-mails."`
	ResponsibleEN        string        `yaml:"responsible_en" defaultdoc:"responsible" doc:"The same, as shown on English pages (a title or role in English, e.g. \"Dr Maria Bianchi, head of identity verification\")."`
	EvidenceDir          string        `yaml:"evidence_dir" defaultdoc:"<data_dir>/evidence" doc:"Where earlier versions kept the encrypted evidence (document scans, signed forms, recordings) as files: still read and swept, never written. New evidence is kept, encrypted, in the database every node shares."`
	ExtraClosedDays      []string      `yaml:"extra_closed_days" doc:"Closing days beyond the national holidays, \"MM-DD\" every year or \"YYYY-MM-DD\" once (e.g. the patron saint)."`
	OfficeHours          string        `yaml:"office_hours" doc:"Count the 48 working hours only within \"HH:MM-HH:MM\" (Europe/Rome); empty: 24-hour working days (the spec's default)."`
	CNSListen            string        `yaml:"cns_listen" doc:"host:port of the TLS listener asking for CNS/CIE client certificates; empty: the CNS/CIE path is off. It must differ from server.listen and be reached directly, with no TLS-terminating proxy in front (the proxy would swallow the card's certificate)."`
	CNSCAFile            string        `yaml:"cns_ca_file" doc:"PEM bundle of the CNS and CIE issuing CAs. Required when cns_listen is set."`
	CNSCertFile          string        `yaml:"cns_cert_file" defaultdoc:"server.tls.cert_file; demo: a self-signed certificate made at start" doc:"PEM certificate the CNS listener presents to browsers (its own host name or port). Required outside demo mode when cns_listen is set and server.tls is empty."`
	CNSKeyFile           string        `yaml:"cns_key_file" defaultdoc:"server.tls.key_file" doc:"PEM private key of cns_cert_file."`
	CNSPublicURL         string        `yaml:"cns_public_url" defaultdoc:"https://<base_url host>:<cns_listen port>" doc:"https:// address where browsers reach the CNS listener, e.g. https://cns.idp.example.it (its own host) or https://idp.example.it:8443."`
	CNSMaxAttempts       int           `yaml:"cns_max_attempts" default:"5" doc:"Refused card attempts allowed per request; then the card path is closed for that request (each attempt is audited and shown to the verifier)."`
	SignatureMaxAttempts int           `yaml:"signature_max_attempts" default:"5" doc:"Refused signed files (qualified signature path) allowed per request; then uploads are refused for that request (each attempt is audited and shown to the verifier)."`
	SignatureTrustFile   string        `yaml:"signature_trust_file" doc:"PEM bundle of the qualified CAs accepted on the signature path; empty: the signature path is off."`
	TSATrustFile         string        `yaml:"tsa_trust_file" doc:"PEM bundle of the time-stamping authorities whose RFC 3161 signature time-stamps make a signature count as made at the stamped time; empty: every signature is judged at upload time (the signer's certificate must then be valid and unrevoked)."`
	RequireQC            bool          `yaml:"require_qc" default:"true" doc:"Require the QcCompliance statement in signer certificates (signature path)."`
	Revocation           string        `yaml:"revocation" default:"hard" doc:"When the status of a card or signer certificate cannot be established (OCSP and CRL both fail): hard refuses it, soft accepts it and shows the verifier that it was not checked."`
	RevocationTimeout    time.Duration `yaml:"revocation_timeout" default:"5s" doc:"Time allowed to each OCSP responder or CRL distribution point."`
	RevocationCacheTTL   time.Duration `yaml:"revocation_cache_ttl" default:"1h" doc:"How long a certificate status is kept in the shared cache (never past the answer's next update)."`
	Price                int           `yaml:"price_cents" default:"0" doc:"Price of a new identity in euro cents; 0: free (no payment step)."`
	PointsOfService      string        `yaml:"points_of_service" defaultdoc:"demo: a few sample points built in" doc:"CSV file of the partner shops and registration counters shown to applicants after submission and on the status page: first line kind,name,address,province,hours (optionally a last column hours_en, the hours as shown on English pages); kind is shop or counter, province two letters (RM)."`
	VideoRoomURL         string        `yaml:"video_room_url" defaultdoc:"<base_url>/enrol/video (the appointment page)" doc:"Address of the video room where the operator meets the applicant, sent in the appointment e-mail and its calendar invitation; {code} is replaced by the request code (e.g. https://video.idp.example.it/room/{code})."`
	VideoDays            []string      `yaml:"video_days" default:"mon, tue, wed, thu, fri, sat" doc:"Days of the week video-call appointments may be published on: mon, tue, wed, thu, fri, sat, sun. National holidays and extra_closed_days stay closed."`
	VideoHours           string        `yaml:"video_hours" default:"08:00-20:00" doc:"Service hours of the video calls, \"HH:MM-HH:MM\" (Europe/Rome): every appointment starts and ends within them."`
	VideoSlotMinutes     []string      `yaml:"video_slot_minutes" default:"15, 20, 30, 45, 60" doc:"Appointment lengths, in minutes (10 to 120), an operator chooses from when publishing availability."`
	VideoRetention       time.Duration `yaml:"video_retention" default:"30d" doc:"How long a past video-call appointment, booked or free, is kept after it ends; the scheduler then deletes it. The call's evidence (recording, checklist) stays with the request under its own retention."`
}

// Legal configures the texts a citizen reads and accepts.
type Legal struct {
	Dir        string `yaml:"dir" doc:"Directory of the operator's own texts: privacy.it.txt, privacy.en.txt, accessibility.it.txt, accessibility.en.txt, terms.it.txt, terms.en.txt (a missing file keeps the built-in text). Format: first line \"# Title\", blank-line-separated blocks, \"## \" headings, \"- \" list items; placeholders {controller}, {controller_url}, {dpo}, {care}, {updated}, {responsible}. Each consent records a hash of the text accepted."`
	DPOContact string `yaml:"dpo_contact" doc:"How to reach the data-protection officer (an e-mail or postal address), printed in the privacy notice; empty: the notice points to customer care."`
	Updated    string `yaml:"updated" default:"2026-12-07" doc:"Date of the texts (YYYY-MM-DD), printed in them as the date of the last update."`
}

// Recovery configures the self-service recovery of credentials.
type Recovery struct {
	LinkTTL     time.Duration `yaml:"link_ttl" default:"30m" doc:"Validity of the single-use password-reset link sent by e-mail."`
	MaxRequests int           `yaml:"max_requests" default:"5" doc:"Recovery requests accepted per fiscal code and per client address within window; more are answered as usual but nothing is sent."`
	Window      time.Duration `yaml:"window" default:"1h" doc:"Period over which max_requests is counted."`
}

// Secret is a configuration string that must never be shown: String,
// LogValue and the text/JSON marshalers all print "[redacted]". Convert it
// with string(s) where the value is needed.
type Secret string

const redacted = "[redacted]"

func (s Secret) String() string               { return redactedOrEmpty(len(s)) }
func (s Secret) GoString() string             { return `"` + redactedOrEmpty(len(s)) + `"` }
func (s Secret) LogValue() slog.Value         { return slog.StringValue(redactedOrEmpty(len(s))) }
func (s Secret) MarshalText() ([]byte, error) { return []byte(redactedOrEmpty(len(s))), nil }

// Key is secret binary key material, written in the configuration as
// base64. It redacts itself like Secret.
type Key []byte

func (k Key) String() string               { return redactedOrEmpty(len(k)) }
func (k Key) GoString() string             { return `"` + redactedOrEmpty(len(k)) + `"` }
func (k Key) LogValue() slog.Value         { return slog.StringValue(redactedOrEmpty(len(k))) }
func (k Key) MarshalText() ([]byte, error) { return []byte(redactedOrEmpty(len(k))), nil }

func redactedOrEmpty(n int) string {
	if n == 0 {
		return ""
	}
	return redacted
}

// OIDC configures the OpenID Provider and its place in the federation.
type OIDC struct {
	Enabled bool   `yaml:"enabled" defaultdoc:"demo: true (with the built-in test federation); otherwise false" doc:"Serve the OpenID Provider (entity configuration, authorization, token, userinfo, introspection, revocation)."`
	Issuer  string `yaml:"issuer" defaultdoc:"<server.base_url>/oidc/op" doc:"Entity id of the OpenID Provider: an https:// URL (http in demo mode) without query or trailing slash, under server.base_url so the IdP serves it."`
	// Keys: federation keys sign our entity configuration; core keys
	// sign tokens and userinfo (spec §1.3, they should differ).
	FederationKeyFile string `yaml:"federation_key_file" defaultdoc:"demo: <data_dir>/keys/oidc-federation.key" doc:"PEM RSA private key (at least 2048 bits) that signs the entity configuration; its public key is the one registered with the trust anchor."`
	// FederationPublishedKeyFiles are federation keys published in the
	// entity configuration's jwks without signing (spec §2.8).
	FederationPublishedKeyFiles []string   `yaml:"federation_published_key_files" doc:"PEM RSA private keys published beside federation_key_file in the entity configuration's jwks but not signing: during a rotation first the next key (until the trust anchor's statement about us carries it, then it becomes federation_key_file), then the previous one (until every statement and cached chain it signed has expired)."`
	SigningKeyFiles             []string   `yaml:"signing_key_files" defaultdoc:"demo: <data_dir>/keys/oidc-signing.key" doc:"PEM RSA private keys (at least 2048 bits) that sign tokens and userinfo. All are published; the first signs. List the next key second while the trust anchor learns it, then first."`
	PairwiseKey                 Key        `yaml:"pairwise_key" defaultdoc:"demo: derived from security.data_key" doc:"Base64 of at least 32 random bytes that make each relying party's pairwise subject. Never change it: every sub would change. Required when oidc.enabled outside demo mode."`
	Federation                  Federation `yaml:"federation" doc:"Trust anchors, authority hints, trust marks and the federation_entity metadata."`
	// Refresh tokens (spec §4.3, Avviso 41 use cases).
	RefreshUseCase        string   `yaml:"refresh_use_case" default:"CU2" doc:"Avviso 41 use case of the long revocable sessions: CU1 or CU2 (every refresh token expires 30 days after the login) or CU3 (each rotation gives 30 more days)."`
	RefreshUseCaseClients []string `yaml:"refresh_use_case_clients" doc:"Relying parties with another use case, each CLIENT_ID|CU1, CLIENT_ID|CU2 or CLIENT_ID|CU3."`
	// GrantTokenLifetime bounds the Attribute Authority grant tokens of
	// both protocols (spec §9.4, §10: 300 s [DEC], configurable).
	GrantTokenLifetime time.Duration `yaml:"grant_token_lifetime" default:"300s" doc:"How long an Attribute Authority grant token (SAML GrantedAttributeAuthority and OIDC tokens claim) stays valid: exp = iat + this, in whole seconds, from 1s to 1h. The relying party must present it to the AA within this time."`
}

// AADiscovery reports whether the Attribute Authority registry runs: with
// the OP, or alone for SAML (oidc.federation.attribute_authorities).
func (o OIDC) AADiscovery() bool { return o.Enabled || o.Federation.AttributeAuthorities }

// Federation is the OpenID Federation part of the OIDC settings.
type Federation struct {
	TrustAnchors []string `yaml:"trust_anchors" doc:"Trust anchors, each ENTITY_ID|JWKS_FILE: the anchor's entity id and a JSON file with its pinned public keys (a JWK set), the only keys its statements are accepted with. Required when oidc.enabled or attribute_authorities, outside demo mode."`
	// AttributeAuthorities lets SAML's spid:RequiredAttributeAuthority
	// work on an IdP that does not serve OIDC: the AA registry needs only
	// the trust anchors, not the OP.
	AttributeAuthorities bool     `yaml:"attribute_authorities" defaultdoc:"demo: true; otherwise false (always on when oidc.enabled)" doc:"Discover the federation's Attribute Authorities through the trust anchors' list endpoints even when oidc.enabled is false, so SAML requests with spid:RequiredAttributeAuthority get grant tokens; needs trust_anchors and nothing else of the OP. With oidc.enabled the discovery always runs."`
	AuthorityHints       []string `yaml:"authority_hints" doc:"Superiors named in our entity configuration; production lists https://registry.spid.gov.it and https://registry-test.spid.gov.it."`
	TrustMarksFile       string   `yaml:"trust_marks_file" doc:"JSON file with the trust marks the anchor issued to us, as an array of {\"id\": ..., \"trust_mark\": ...}."`
	RPTrustMarks         []string `yaml:"rp_trust_marks" default:"/openid_relying_party/public/,/openid_relying_party/private/" doc:"Trust mark ids, after the anchor's entity id, of which a relying party must hold one before anything else about it is fetched."`
	OrganizationName     string   `yaml:"organization_name" defaultdoc:"idp.organization.name.it" doc:"federation_entity organization_name."`
	HomepageURI          string   `yaml:"homepage_uri" defaultdoc:"idp.organization.url.it" doc:"federation_entity homepage_uri."`
	PolicyURI            string   `yaml:"policy_uri" defaultdoc:"demo: <server.base_url>/privacy; otherwise required when oidc.enabled" doc:"federation_entity policy_uri: the privacy policy."`
	LogoURI              string   `yaml:"logo_uri" defaultdoc:"demo: <server.base_url>/static/logo.svg; otherwise required when oidc.enabled" doc:"federation_entity logo_uri: an SVG (the URL must end in .svg)."`
	Contacts             []string `yaml:"contacts" defaultdoc:"idp.contact.email" doc:"federation_entity contacts: e-mail or PEC addresses, at least one."`
}

// PKCS11 names an HSM token (keys/pkcs11).
type PKCS11 struct {
	Module     string `yaml:"module" doc:"Path of the PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so."`
	TokenLabel string `yaml:"token_label" doc:"Label of the token holding the keys."`
	PIN        Secret `yaml:"pin" doc:"User PIN of the token."`
	// DataKeyLabel names the AES key that wraps the data key: the root of
	// the data-key hierarchy stays in the token.
	DataKeyLabel string `yaml:"data_key_label" doc:"Label of the AES-256 key in the token that wraps the data key (security.data_key_wrapped); spid-idp keys wrap-data-key --create makes it."`
}
