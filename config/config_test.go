package config

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/spid-idp/spid-idp/keys"
	"github.com/spid-idp/spid-idp/keys/pkcs11"
)

// fixture is a directory holding every file a production configuration
// names, plus environment variables carrying valid secrets.
type fixture struct {
	dir string
	env []string
}

var (
	cookieKeyB64 = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{'c'}, 32))
	dataKeyB64   = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{'d'}, 32))
)

type pairs3 struct{ main, other, expired keys.Pair }

// testPairs generates the key pairs once per test binary: RSA generation
// is the slow part of these tests.
var testPairs = func() func(t *testing.T) pairs3 {
	var once sync.Once
	var ps pairs3
	var err error
	return func(t *testing.T) pairs3 {
		t.Helper()
		once.Do(func() {
			gen := func(now time.Time, validFor time.Duration) keys.Pair {
				if err != nil {
					return keys.Pair{}
				}
				var p keys.Pair
				p, err = keys.Generate(keys.GenerateOptions{
					Bits: 2048, CommonName: "Esempio ID", Locality: "Roma",
					OrganizationIdentifier: "VATIT-12345678901", OrganizationName: "Esempio S.p.A.",
					EntityID: "https://idp.example.it", ValidFor: validFor, Now: func() time.Time { return now },
				})
				return p
			}
			ps.main = gen(time.Now(), 0)
			ps.other = gen(time.Now(), 0)
			ps.expired = gen(time.Now().Add(-48*time.Hour), 24*time.Hour)
		})
		if err != nil {
			t.Fatal(err)
		}
		return ps
	}
}()

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	ps := testPairs(t)
	save := func(p keys.Pair, key, cert string) {
		if err := keys.Save(p, filepath.Join(dir, key), filepath.Join(dir, cert)); err != nil {
			t.Fatal(err)
		}
	}
	save(ps.main, "signing.key", "signing.crt")
	save(ps.main, "tls.key", "tls.crt")
	save(ps.other, "other.key", "next.crt")
	save(ps.expired, "expired.key", "expired.crt")
	if err := os.Mkdir(filepath.Join(dir, "sp"), 0o700); err != nil {
		t.Fatal(err)
	}
	return &fixture{dir: dir, env: []string{
		"SPID_IDP_IDP_SESSION_COOKIE_KEY=" + cookieKeyB64,
		"SPID_IDP_SECURITY_DATA_KEY=" + dataKeyB64,
		"SPID_IDP_IDP_SPID_CODE_PREFIX=EXID",
		"SPID_IDP_ENROLMENT_RESPONSIBLE=Maria Bianchi",
	}}
}

// minimal is the smallest valid production file.
func (f *fixture) minimal() string {
	return strings.ReplaceAll(`server:
  base_url: https://idp.example.it
idp:
  organization:
    name: {it: Esempio S.p.A.}
    display_name: {it: Esempio ID}
    url: {it: "https://www.example.it"}
  contact:
    email: spid@example.it
    vat_number: IT12345678901
  signing:
    key_file: DIR/signing.key
    cert_file: DIR/signing.crt
  sp_metadata_dir: DIR/sp
`, "DIR", f.dir)
}

func (f *fixture) write(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(f.dir, fmt.Sprintf("config-%d.yaml", time.Now().UnixNano()))
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// problems loads and returns the problems, failing on any other error.
func problems(t *testing.T, path string, env []string) []Problem {
	t.Helper()
	_, err := Load(path, env)
	if err == nil {
		return nil
	}
	var ps *Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Load returned %T %v, want *Problems", err, err)
	}
	return ps.List
}

func mustLoad(t *testing.T, path string, env []string) *Config {
	t.Helper()
	c, err := Load(path, env)
	if err != nil {
		t.Fatalf("Load(%q): %v", path, err)
	}
	return c
}

func TestDemoDefaults(t *testing.T) {
	c := mustLoad(t, "", nil)
	want := map[string]any{
		"Demo":        true,
		"DataDir":     "./data",
		"SQLite":      filepath.Join("data", "spid-idp.db"),
		"Storage":     "sqlite",
		"Cache":       "memory",
		"Listen":      "127.0.0.1:8080",
		"BaseURL":     "http://127.0.0.1:8080",
		"EntityID":    "http://127.0.0.1:8080",
		"KeyFile":     filepath.Join("data", "keys", "signing.key"),
		"CertFile":    filepath.Join("data", "keys", "signing.crt"),
		"SPMetadata":  filepath.Join("data", "sp-metadata"),
		"Past":        2 * time.Minute,
		"Future":      30 * time.Second,
		"RelayState":  1024,
		"Lifetime":    8 * time.Hour,
		"Idle":        30 * time.Minute,
		"Assertion":   5 * time.Minute,
		"Consent":     10 * time.Minute,
		"ArgonT":      uint32(2),
		"ArgonM":      uint32(64 * 1024),
		"ArgonP":      uint8(4),
		"MaxBody":     int64(128 << 10),
		"LogLevel":    slog.LevelInfo,
		"OrgEN":       "Demo SPID IdP",
		"IdPName":     "IdP SPID dimostrativo",
		"Lockout":     5,
		"LoginFail":   3,
		"RedisPrefix": "spid-idp:",
	}
	got := map[string]any{
		"Demo":        c.Demo,
		"DataDir":     c.DataDir,
		"SQLite":      c.Storage.SQLite.Path,
		"Storage":     c.Storage.Driver,
		"Cache":       c.Cache.Driver,
		"Listen":      c.Server.Listen,
		"BaseURL":     c.Server.BaseURL,
		"EntityID":    c.IdP.EntityID,
		"KeyFile":     c.IdP.Signing.KeyFile,
		"CertFile":    c.IdP.Signing.CertFile,
		"SPMetadata":  c.IdP.SPMetadataDir,
		"Past":        c.IdP.Request.IssueInstantPast,
		"Future":      c.IdP.Request.IssueInstantFuture,
		"RelayState":  c.IdP.Request.MaxRelayState,
		"Lifetime":    c.IdP.Session.Lifetime,
		"Idle":        c.IdP.Session.IdleTimeout,
		"Assertion":   c.IdP.AssertionLifetime,
		"Consent":     c.IdP.ConsentTimeout,
		"ArgonT":      c.Security.Argon2.Time,
		"ArgonM":      c.Security.Argon2.MemoryKiB,
		"ArgonP":      c.Security.Argon2.Threads,
		"MaxBody":     c.Server.MaxBodyBytes,
		"LogLevel":    c.Log.SlogLevel(),
		"OrgEN":       c.IdP.Organization.Name.EN,
		"IdPName":     c.IdP.Name,
		"Lockout":     c.Security.Lockout.MaxFailures,
		"LoginFail":   c.Security.LoginMaxFailures,
		"RedisPrefix": c.Cache.Redis.KeyPrefix,
	}
	for k, w := range want {
		if !reflect.DeepEqual(got[k], w) {
			t.Errorf("%s = %#v, want %#v", k, got[k], w)
		}
	}
	if len(c.IdP.Session.CookieKey) != 0 || len(c.Security.DataKey) != 0 {
		t.Error("Load must not invent keys; EnsureDemoKeys does")
	}
}

func TestDemoBaseURLFollowsListen(t *testing.T) {
	for listen, want := range map[string]string{
		"0.0.0.0:9000":   "http://127.0.0.1:9000",
		":9001":          "http://127.0.0.1:9001",
		"[::]:9002":      "http://[::1]:9002",
		"localhost:9003": "http://localhost:9003",
	} {
		c := mustLoad(t, "", []string{"SPID_IDP_SERVER_LISTEN=" + listen})
		if c.Server.BaseURL != want || c.IdP.EntityID != want {
			t.Errorf("listen %s: base_url %q entity_id %q, want %q", listen, c.Server.BaseURL, c.IdP.EntityID, want)
		}
	}
}

func TestMinimalProductionFile(t *testing.T) {
	f := newFixture(t)
	c := mustLoad(t, f.write(t, f.minimal()), f.env)
	if c.Demo {
		t.Error("a file was given: not demo")
	}
	if c.IdP.EntityID != "https://idp.example.it" {
		t.Errorf("entity_id = %q, want the base_url", c.IdP.EntityID)
	}
	if c.IdP.Name != "Esempio ID" || c.IdP.Organization.URL.EN != "https://www.example.it" {
		t.Errorf("computed defaults: name %q, url.en %q", c.IdP.Name, c.IdP.Organization.URL.EN)
	}
	if !bytes.Equal(c.IdP.Session.CookieKey, bytes.Repeat([]byte{'c'}, 32)) {
		t.Error("cookie key not decoded from base64")
	}
}

func TestThreeMistakesThreeLines(t *testing.T) {
	f := newFixture(t)
	doc := f.minimal() + `log:
  levle: debug
  format: xml
storage:
  driver: postgres
  postgres:
    max_conns: 5
`
	doc = strings.Replace(doc, "server:\n", "server:\n  read_timeout: ten\n", 1)
	// levle (unknown), format (bad value), read_timeout (bad duration) and
	// postgres without dsn: four mistakes → four lines. Drop the last to
	// get exactly three.
	doc = strings.Replace(doc, "driver: postgres", "driver: sqlite", 1)
	got := problems(t, f.write(t, doc), f.env)
	want := []string{
		`server.read_timeout: must be a duration like "30s", "5m" or "24h", got "ten" (line 2)`,
		"log.levle: unknown option, did you mean `log.level`? (line 17)",
		`log.format: must be one of text, json, got "xml" (line 18)`,
	}
	var lines []string
	for _, p := range got {
		lines = append(lines, p.String())
	}
	if !reflect.DeepEqual(lines, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	err := (&Problems{List: got}).Error()
	if strings.Count(err, "\n") != 2 {
		t.Errorf("Error() should be three lines:\n%s", err)
	}
}

func TestUnknownKeys(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, add, path, msg string
	}{
		{"typo", "server:\n  read_timout: 5s\n", "server.read_timout", "unknown option, did you mean `server.read_timeout`?"},
		{"swap", "server:\n  raed_timeout: 5s\n", "server.raed_timeout", "did you mean `server.read_timeout`?"},
		{"camel case", "server:\n  baseURL: https://x.it\n", "server.baseURL", "did you mean `server.base_url`?"},
		{"dash", "server:\n  max-body-bytes: 1\n", "server.max-body-bytes", "did you mean `server.max_body_bytes`?"},
		{"wrong section", "server:\n  dsn: postgres://x\n", "server.dsn", "did you mean `storage.postgres.dsn`?"},
		{"top level typo", "stroage:\n  driver: sqlite\n", "stroage", "did you mean `storage`?"},
		{"nothing close", "zzz: 1\n", "zzz", "unknown option; the sections are server, log, data_dir"},
		{"deep", "idp:\n  session:\n    cookie_kee: x\n", "idp.session.cookie_kee", "did you mean `idp.session.cookie_key`?"},
		{"nowhere", "idp:\n  request:\n    quux: 1\n", "idp.request.quux", "unknown option"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Separate sections of the same name would be duplicates: put
			// the addition in a file of its own on top of the environment.
			got := problems(t, f.write(t, tt.add), nil)
			p := find(got, tt.path)
			if p == nil {
				t.Fatalf("no problem for %s in\n%v", tt.path, got)
			}
			if !strings.Contains(p.Message, tt.msg) || p.Line == 0 {
				t.Errorf("got %q, want it to contain %q and a line", p.String(), tt.msg)
			}
		})
	}
}

func TestEveryUnknownKeyReported(t *testing.T) {
	f := newFixture(t)
	doc := f.minimal() + "log:\n  colour: red\n  lvl: x\ncache:\n  redis:\n    adress: x\n    passwd: y\n"
	got := problems(t, f.write(t, doc), f.env)
	var paths []string
	for _, p := range got {
		paths = append(paths, p.Path)
	}
	want := []string{"log.colour", "log.lvl", "cache.redis.adress", "cache.redis.passwd"}
	if !reflect.DeepEqual(paths, want) {
		t.Errorf("paths = %v, want %v", paths, want)
	}
}

func find(ps []Problem, path string) *Problem {
	for i := range ps {
		if ps[i].Path == path {
			return &ps[i]
		}
	}
	return nil
}

func TestYAMLShapes(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, doc, path, msg string
		line                 int
	}{
		{"bad duration", "server:\n  idle_timeout: 30\n", "server.idle_timeout", `must be a duration like "30s", "5m" or "24h", got "30"`, 2},
		{"bad bool", "cache:\n  redis:\n    tls: yes\n", "cache.redis.tls", `must be true or false, got "yes"`, 3},
		{"bad int", "storage:\n  postgres:\n    max_conns: many\n", "storage.postgres.max_conns", `must be a whole number, got "many"`, 3},
		{"uint8 overflow", "security:\n  argon2:\n    threads: 300\n", "security.argon2.threads", "must be between 0 and 255, got 300", 3},
		{"negative uint", "security:\n  argon2:\n    time: -1\n", "security.argon2.time", "must be between 0 and 4294967295, got -1", 3},
		{"bad size", "server:\n  max_body_bytes: 1TB\n", "server.max_body_bytes", `must be a size in bytes like 65536 or "64KiB", got "1TB"`, 2},
		{"list wanted", "server:\n  trusted_proxies: 10.0.0.0/8\n", "server.trusted_proxies", "must be a list, got a single value", 2},
		{"bad cidr", "server:\n  trusted_proxies: [10.0.0.0/8, 10.0.0.300/8]\n", "server.trusted_proxies[1]", `must be a CIDR like "10.0.0.0/8" or an IP address, got "10.0.0.300/8"`, 2},
		{"host bits", "server:\n  trusted_proxies:\n    - 10.1.2.3/8\n", "server.trusted_proxies[0]", `has host bits set: did you mean "10.0.0.0/8"?`, 3},
		{"section wanted", "server: https://x.it\n", "server", "must be a section (a mapping of options), got a single value", 1},
		{"scalar wanted", "log:\n  level: [debug]\n", "log.level", "must be a single value, got a list", 2},
		{"duplicate", "log:\n  level: info\n  level: debug\n", "log.level", "is set twice (first on line 2); keep one", 3},
		{"not a mapping", "- a\n- b\n", "(file)", "must be a mapping of sections", 1},
		{"syntax", "server:\n  base_url: [\n", "(file)", "is not valid YAML", 0},
		{"two documents", "log:\n  level: info\n---\nlog:\n  level: debug\n", "(file)", "holds more than one YAML document", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := problems(t, f.write(t, tt.doc), nil)
			p := find(got, tt.path)
			if p == nil {
				t.Fatalf("no problem for %s in\n%v", tt.path, got)
			}
			if !strings.Contains(p.Message, tt.msg) {
				t.Errorf("message %q, want it to contain %q", p.Message, tt.msg)
			}
			if p.Line != tt.line {
				t.Errorf("line %d, want %d (%s)", p.Line, tt.line, p)
			}
		})
	}
}

func TestYAMLConveniences(t *testing.T) {
	f := newFixture(t)
	doc := f.minimal() + `x-timeouts: &t
  read_timeout: 20s
  write_timeout: 40s
log:
  level:
  format: json
storage:
  postgres:
    max_conns: 7
security:
  argon2:
    memory_kib: 65536
`
	// x-… keys are not options; the anchor must live inside a known
	// section, so use a merge under server instead.
	doc = strings.Replace(doc, "x-timeouts: &t\n  read_timeout: 20s\n  write_timeout: 40s\n", "", 1)
	doc = strings.Replace(doc, "server:\n", "server:\n  tls: &empty {}\n  <<: {read_timeout: 20s, write_timeout: 40s}\n  write_timeout: 45s\n", 1)
	c := mustLoad(t, f.write(t, doc), f.env)
	if c.Server.ReadTimeout != 20*time.Second || c.Server.WriteTimeout != 45*time.Second {
		t.Errorf("merge: read %s write %s, want 20s and 45s (own key wins)", c.Server.ReadTimeout, c.Server.WriteTimeout)
	}
	if c.Log.Level != "info" {
		t.Errorf("an empty value must keep the default, got %q", c.Log.Level)
	}
	if c.Storage.Postgres.MaxConns != 7 {
		t.Errorf("max_conns = %d", c.Storage.Postgres.MaxConns)
	}
}

func TestEmptyFileIsNotDemo(t *testing.T) {
	f := newFixture(t)
	got := problems(t, f.write(t, ""), nil)
	for _, path := range []string{"server.base_url", "idp.signing.key_file", "idp.session.cookie_key", "security.data_key", "idp.contact.email"} {
		if find(got, path) == nil {
			t.Errorf("empty file: expected a problem for %s, got\n%v", path, got)
		}
	}
	if p := find(got, "idp.entity_id"); p != nil {
		t.Errorf("entity_id derives from base_url and must not be reported twice: %s", p)
	}
}

func TestEnvOverride(t *testing.T) {
	f := newFixture(t)
	path := f.write(t, f.minimal()+"log:\n  level: warn\n")
	env := append([]string{
		"PATH=/usr/bin",
		"SPID_IDP_LOG_LEVEL=debug",
		"SPID_IDP_SERVER_BASE_URL=https://login.example.it/",
		"SPID_IDP_SERVER_TRUSTED_PROXIES=10.0.0.0/8, 192.168.1.1 ,",
		"SPID_IDP_IDP_SIGNING_EXTRA_CERT_FILES=" + filepath.Join(f.dir, "next.crt"),
		"SPID_IDP_IDP_METADATA_VALID_FOR=7d",
		"SPID_IDP_SERVER_MAX_BODY_BYTES=1MiB",
		"SPID_IDP_CACHE_REDIS_TLS=true",
		"SPID_IDP_SECURITY_ARGON2_THREADS=2",
		"SPID_IDP_STORAGE_DRIVER=postgres",
		"SPID_IDP_STORAGE_POSTGRES_DSN=postgres://spid:pw@127.0.0.1:5432/test",
		"SPID_IDP_CONFIG=/etc/spid-idp/config.yaml", // reserved for the command line
		"SPID_IDP_IDP_NAME=",                        // empty: ignored
	}, f.env...)
	c := mustLoad(t, path, env)
	if c.Log.Level != "debug" {
		t.Errorf("env must beat the file: level %q", c.Log.Level)
	}
	if c.Server.BaseURL != "https://login.example.it" || c.IdP.EntityID != "https://login.example.it" {
		t.Errorf("base_url %q entity_id %q", c.Server.BaseURL, c.IdP.EntityID)
	}
	wantProxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.1/32")}
	if !reflect.DeepEqual(c.Server.TrustedProxies, wantProxies) {
		t.Errorf("trusted_proxies = %v", c.Server.TrustedProxies)
	}
	if len(c.IdP.Signing.ExtraCertFiles) != 1 || c.IdP.Metadata.ValidFor != 7*24*time.Hour ||
		c.Server.MaxBodyBytes != 1<<20 || !c.Cache.Redis.TLS || c.Security.Argon2.Threads != 2 {
		t.Errorf("typed overrides not applied: %+v", c)
	}
	if c.Storage.Driver != "postgres" || string(c.Storage.Postgres.DSN) != "postgres://spid:pw@127.0.0.1:5432/test" {
		t.Errorf("storage = %s %q", c.Storage.Driver, string(c.Storage.Postgres.DSN))
	}
	if c.IdP.Name != "Esempio ID" {
		t.Errorf("empty variable must be ignored, name %q", c.IdP.Name)
	}
}

func TestEnvProblems(t *testing.T) {
	f := newFixture(t)
	secretFile := filepath.Join(f.dir, "dsn")
	if err := os.WriteFile(secretFile, []byte("postgres://u:p@db/x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  []string
		path string
		msg  string
		from string
	}{
		{"unknown with suggestion", []string{"SPID_IDP_SERVER_BASEURL=https://x.it"}, "SPID_IDP_SERVER_BASEURL", "unknown variable, did you mean SPID_IDP_SERVER_BASE_URL?", ""},
		{"unknown _FILE with suggestion", []string{"SPID_IDP_STORAGE_POSTGRE_DSN_FILE=/x"}, "SPID_IDP_STORAGE_POSTGRE_DSN_FILE", "did you mean SPID_IDP_STORAGE_POSTGRES_DSN_FILE?", ""},
		{"section", []string{"SPID_IDP_SERVER_TLS=on"}, "SPID_IDP_SERVER_TLS", "names the section server.tls, not an option; set its options one by one, e.g. SPID_IDP_SERVER_TLS_CERT_FILE", ""},
		{"unknown far", []string{"SPID_IDP_WHATEVER=1"}, "SPID_IDP_WHATEVER", "unknown variable", ""},
		{"both forms", []string{"SPID_IDP_STORAGE_POSTGRES_DSN=postgres://a@b/c", "SPID_IDP_STORAGE_POSTGRES_DSN_FILE=" + secretFile}, "storage.postgres.dsn", "is set by both SPID_IDP_STORAGE_POSTGRES_DSN and SPID_IDP_STORAGE_POSTGRES_DSN_FILE; use one", "SPID_IDP_STORAGE_POSTGRES_DSN_FILE"},
		{"missing file", []string{"SPID_IDP_CACHE_REDIS_PASSWORD_FILE=" + filepath.Join(f.dir, "nope")}, "cache.redis.password", "cannot read the file: open", "SPID_IDP_CACHE_REDIS_PASSWORD_FILE"},
		{"empty file name", []string{"SPID_IDP_CACHE_REDIS_PASSWORD_FILE="}, "cache.redis.password", "names no file", "SPID_IDP_CACHE_REDIS_PASSWORD_FILE"},
		{"bad value", []string{"SPID_IDP_SERVER_READ_TIMEOUT=ten"}, "server.read_timeout", `must be a duration like "30s", "5m" or "24h", got "ten"`, "SPID_IDP_SERVER_READ_TIMEOUT"},
		{"bad list item", []string{"SPID_IDP_SERVER_TRUSTED_PROXIES=10.0.0.0/8,nope"}, "server.trusted_proxies", `item 2: must be a CIDR`, "SPID_IDP_SERVER_TRUSTED_PROXIES"},
		{"validation names the variable", []string{"SPID_IDP_LOG_FORMAT=yaml"}, "log.format", `must be one of text, json, got "yaml"`, "SPID_IDP_LOG_FORMAT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := problems(t, f.write(t, f.minimal()), append(tt.env, f.env...))
			p := find(got, tt.path)
			if p == nil {
				t.Fatalf("no problem for %s in\n%v", tt.path, got)
			}
			if !strings.Contains(p.Message, tt.msg) {
				t.Errorf("message %q, want it to contain %q", p.Message, tt.msg)
			}
			if tt.from != "" && !strings.HasSuffix(p.String(), "(from "+tt.from+")") {
				t.Errorf("%q should end with (from %s)", p.String(), tt.from)
			}
		})
	}
}

func TestEnvFileIndirection(t *testing.T) {
	f := newFixture(t)
	write := func(name, content string) string {
		p := filepath.Join(f.dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	env := []string{
		"SPID_IDP_STORAGE_DRIVER=postgres",
		"SPID_IDP_STORAGE_POSTGRES_DSN_FILE=" + write("dsn", "postgres://spid:pw@db:5432/spid\n"),
		"SPID_IDP_CACHE_REDIS_PASSWORD_FILE=" + write("redis", "p@ss word\r\n"),
		"SPID_IDP_IDP_SESSION_COOKIE_KEY_FILE=" + write("cookie", cookieKeyB64+"\n"),
		"SPID_IDP_SECURITY_DATA_KEY_FILE=" + write("data", dataKeyB64),
		"SPID_IDP_IDP_SPID_CODE_PREFIX=EXID",
		"SPID_IDP_ENROLMENT_RESPONSIBLE=Maria Bianchi",
		// An option whose own name ends in _FILE: the plain variable sets it…
		"SPID_IDP_SERVER_TLS_CERT_FILE=" + filepath.Join(f.dir, "tls.crt"),
		// …and _FILE_FILE reads the path from a file.
		"SPID_IDP_SERVER_TLS_KEY_FILE_FILE=" + write("keypath", filepath.Join(f.dir, "tls.key")+"\n"),
	}
	c := mustLoad(t, f.write(t, f.minimal()), env)
	if string(c.Storage.Postgres.DSN) != "postgres://spid:pw@db:5432/spid" {
		t.Errorf("dsn: trailing newline must be trimmed, got %q", string(c.Storage.Postgres.DSN))
	}
	if string(c.Cache.Redis.Password) != "p@ss word" {
		t.Errorf("redis password %q", string(c.Cache.Redis.Password))
	}
	if len(c.IdP.Session.CookieKey) != 32 || len(c.Security.DataKey) != 32 {
		t.Error("keys from files not decoded")
	}
	if c.Server.TLS.KeyFile != filepath.Join(f.dir, "tls.key") || c.Server.TLS.CertFile != filepath.Join(f.dir, "tls.crt") {
		t.Errorf("tls = %+v", c.Server.TLS)
	}
}

// TestValidationRules checks each cross-field rule through environment
// overrides on top of a valid production file.
func TestValidationRules(t *testing.T) {
	f := newFixture(t)
	missing := filepath.Join(f.dir, "missing.pem")
	tests := []struct {
		name string
		env  []string
		path string
		msg  string
	}{
		{"tls cert without key", []string{"SPID_IDP_SERVER_TLS_CERT_FILE=" + filepath.Join(f.dir, "tls.crt")}, "server.tls.key_file", "is required when server.tls.cert_file is set"},
		{"tls key without cert", []string{"SPID_IDP_SERVER_TLS_KEY_FILE=" + filepath.Join(f.dir, "tls.key")}, "server.tls.cert_file", "is required when server.tls.key_file is set"},
		{"tls file missing", []string{"SPID_IDP_SERVER_TLS_KEY_FILE=" + missing, "SPID_IDP_SERVER_TLS_CERT_FILE=" + filepath.Join(f.dir, "tls.crt")}, "server.tls.key_file", "names a file that does not exist"},
		{"tls file is a dir", []string{"SPID_IDP_SERVER_TLS_KEY_FILE=" + f.dir, "SPID_IDP_SERVER_TLS_CERT_FILE=" + filepath.Join(f.dir, "tls.crt")}, "server.tls.key_file", "names a directory, not a file"},
		{"tls version", []string{"SPID_IDP_SERVER_TLS_MIN_VERSION=1.1"}, "server.tls.min_version", `must be one of 1.2, 1.3, got "1.1"`},
		{"postgres without dsn", []string{"SPID_IDP_STORAGE_DRIVER=postgres"}, "storage.postgres.dsn", "is required when storage.driver is postgres"},
		{"dsn with sqlite", []string{"SPID_IDP_STORAGE_POSTGRES_DSN=postgres://db/x"}, "storage.postgres.dsn", `is set but storage.driver is "sqlite"`},
		{"dsn wrong scheme", []string{"SPID_IDP_STORAGE_DRIVER=postgres", "SPID_IDP_STORAGE_POSTGRES_DSN=mysql://x"}, "storage.postgres.dsn", `must be a postgres:// URL, got a value with scheme "mysql"`},
		{"dsn garbage", []string{"SPID_IDP_STORAGE_DRIVER=postgres", "SPID_IDP_STORAGE_POSTGRES_DSN=just-a-word"}, "storage.postgres.dsn", "got a value that is neither"},
		{"dsn no host", []string{"SPID_IDP_STORAGE_DRIVER=postgres", "SPID_IDP_STORAGE_POSTGRES_DSN=postgres:///x"}, "storage.postgres.dsn", "must name a host"},
		{"storage driver", []string{"SPID_IDP_STORAGE_DRIVER=mysql"}, "storage.driver", `must be one of sqlite, postgres, got "mysql"`},
		{"max conns", []string{"SPID_IDP_STORAGE_POSTGRES_MAX_CONNS=0"}, "storage.postgres.max_conns", "must be between 1 and 1000, got 0"},
		{"redis without addr", []string{"SPID_IDP_CACHE_DRIVER=redis"}, "cache.redis.addr", "is required when cache.driver is redis"},
		{"redis addr without port", []string{"SPID_IDP_CACHE_DRIVER=redis", "SPID_IDP_CACHE_REDIS_ADDR=redis"}, "cache.redis.addr", `must be host:port`},
		{"redis addr with memory", []string{"SPID_IDP_CACHE_REDIS_ADDR=127.0.0.1:6379"}, "cache.redis.addr", `is set but cache.driver is "memory"`},
		{"sentinel without master name", []string{"SPID_IDP_CACHE_DRIVER=redis", "SPID_IDP_CACHE_REDIS_SENTINEL_ADDRS=s1:26379,s2:26379"}, "cache.redis.master_name", "is required when cache.redis.sentinel_addrs is set"},
		{"sentinel and addr", []string{"SPID_IDP_CACHE_DRIVER=redis", "SPID_IDP_CACHE_REDIS_ADDR=r:6379", "SPID_IDP_CACHE_REDIS_SENTINEL_ADDRS=s1:26379", "SPID_IDP_CACHE_REDIS_MASTER_NAME=m"}, "cache.redis.addr", "is set together with cache.redis.sentinel_addrs"},
		{"sentinel addr without port", []string{"SPID_IDP_CACHE_DRIVER=redis", "SPID_IDP_CACHE_REDIS_SENTINEL_ADDRS=s1:26379,s2", "SPID_IDP_CACHE_REDIS_MASTER_NAME=m"}, "cache.redis.sentinel_addrs[1]", "must be host:port"},
		{"master name without sentinels", []string{"SPID_IDP_CACHE_DRIVER=redis", "SPID_IDP_CACHE_REDIS_MASTER_NAME=m"}, "cache.redis.sentinel_addrs", "is required when cache.redis.master_name is set"},
		{"cache driver suggestion", []string{"SPID_IDP_CACHE_DRIVER=Redis"}, "cache.driver", "did you mean `redis`?"},
		{"http base url", []string{"SPID_IDP_SERVER_BASE_URL=http://idp.example.it"}, "server.base_url", `must be an https:// URL outside demo mode, got "http://idp.example.it"`},
		{"relative base url", []string{"SPID_IDP_SERVER_BASE_URL=idp.example.it"}, "server.base_url", "must be an absolute http(s) URL"},
		{"base url with query", []string{"SPID_IDP_SERVER_BASE_URL=https://idp.example.it/?a=b"}, "server.base_url", "must not contain a query"},
		{"listen no port", []string{"SPID_IDP_SERVER_LISTEN=127.0.0.1"}, "server.listen", `must be host:port like "127.0.0.1:8080"`},
		{"listen bad port", []string{"SPID_IDP_SERVER_LISTEN=:99999"}, "server.listen", "must have a port from 1 to 65535"},
		{"listen bad host", []string{"SPID_IDP_SERVER_LISTEN=bad_host!:80"}, "server.listen", "must have an IP address or a host name"},
		{"zero duration", []string{"SPID_IDP_SERVER_WRITE_TIMEOUT=0s"}, "server.write_timeout", `must be a positive duration like "30s", got "0s"`},
		{"negative duration", []string{"SPID_IDP_IDP_ASSERTION_LIFETIME=-5m"}, "idp.assertion_lifetime", `must be a positive duration`},
		{"header timeout above read", []string{"SPID_IDP_SERVER_READ_HEADER_TIMEOUT=1m"}, "server.read_header_timeout", "must not exceed server.read_timeout"},
		{"tiny body", []string{"SPID_IDP_SERVER_MAX_BODY_BYTES=100"}, "server.max_body_bytes", "must be at least 4096"},
		{"log level", []string{"SPID_IDP_LOG_LEVEL=warning"}, "log.level", "did you mean `warn`?"},
		{"argon2 memory", []string{"SPID_IDP_SECURITY_ARGON2_MEMORY_KIB=8192"}, "security.argon2.memory_kib", "must be at least 19456 (19 MiB, the OWASP minimum), got 8192"},
		{"argon2 memory cap", []string{"SPID_IDP_SECURITY_ARGON2_MEMORY_KIB=4GiB"}, "security.argon2.memory_kib", `must be a whole number from 0 to 4294967295, got "4GiB"`},
		{"argon2 one pass", []string{"SPID_IDP_SECURITY_ARGON2_TIME=1", "SPID_IDP_SECURITY_ARGON2_MEMORY_KIB=19456"}, "security.argon2.time", "must be at least 2 when"},
		{"argon2 zero time", []string{"SPID_IDP_SECURITY_ARGON2_TIME=0"}, "security.argon2.time", "must be at least 1"},
		{"argon2 threads", []string{"SPID_IDP_SECURITY_ARGON2_THREADS=0"}, "security.argon2.threads", "must be at least 1"},
		{"lockout", []string{"SPID_IDP_SECURITY_LOCKOUT_MAX_FAILURES=0"}, "security.lockout.max_failures", "must be at least 1"},
		{"login failures", []string{"SPID_IDP_SECURITY_LOGIN_MAX_FAILURES=0"}, "security.login_max_failures", "must be at least 1"},
		{"http entity id", []string{"SPID_IDP_IDP_ENTITY_ID=http://idp.example.it"}, "idp.entity_id", "must be an https:// URL outside demo mode"},
		{"relative entity id", []string{"SPID_IDP_IDP_ENTITY_ID=urn:example:idp"}, "idp.entity_id", "must be an absolute https:// URL"},
		{"long entity id", []string{"SPID_IDP_IDP_ENTITY_ID=https://idp.example.it/" + strings.Repeat("a", 1100)}, "idp.entity_id", "must be at most 1024 characters"},
		{"signing key missing", []string{"SPID_IDP_IDP_SIGNING_KEY_FILE=" + missing}, "idp.signing.key_file", "names a file that does not exist"},
		{"signing pair mismatch", []string{"SPID_IDP_IDP_SIGNING_KEY_FILE=" + filepath.Join(f.dir, "other.key")}, "idp.signing.key_file", "private key does not match the certificate"},
		{"signing key not PEM", []string{"SPID_IDP_IDP_SIGNING_KEY_FILE=" + filepath.Join(f.dir, "signing.crt")}, "idp.signing.key_file", "does not make a usable pair with idp.signing.cert_file"},
		{"signing cert expired", []string{"SPID_IDP_IDP_SIGNING_KEY_FILE=" + filepath.Join(f.dir, "expired.key"), "SPID_IDP_IDP_SIGNING_CERT_FILE=" + filepath.Join(f.dir, "expired.crt")}, "idp.signing.cert_file", "certificate expired on"},
		{"extra cert expired", []string{"SPID_IDP_IDP_SIGNING_EXTRA_CERT_FILES=" + filepath.Join(f.dir, "expired.crt")}, "idp.signing.extra_cert_files[0]", "expired on"},
		{"extra cert not PEM", []string{"SPID_IDP_IDP_SIGNING_EXTRA_CERT_FILES=" + filepath.Join(f.dir, "other.key")}, "idp.signing.extra_cert_files[0]", "holds no PEM CERTIFICATE block"},
		{"tls pair mismatch", []string{"SPID_IDP_SERVER_TLS_CERT_FILE=" + filepath.Join(f.dir, "tls.crt"), "SPID_IDP_SERVER_TLS_KEY_FILE=" + filepath.Join(f.dir, "other.key")}, "server.tls.cert_file", "does not make a usable pair with server.tls.key_file"},
		{"tls cert expired", []string{"SPID_IDP_SERVER_TLS_CERT_FILE=" + filepath.Join(f.dir, "expired.crt"), "SPID_IDP_SERVER_TLS_KEY_FILE=" + filepath.Join(f.dir, "expired.key")}, "server.tls.cert_file", "certificate expired on"},
		{"signing key not a file", []string{"SPID_IDP_IDP_SIGNING_KEY_FILE=/dev/null"}, "idp.signing.key_file", "not a regular file"},
		{"signing cert missing", []string{"SPID_IDP_IDP_SIGNING_CERT_FILE=" + missing}, "idp.signing.cert_file", "names a file that does not exist"},
		{"extra cert missing", []string{"SPID_IDP_IDP_SIGNING_EXTRA_CERT_FILES=" + filepath.Join(f.dir, "next.crt") + "," + missing}, "idp.signing.extra_cert_files[1]", "names a file that does not exist"},
		{"sp metadata dir missing", []string{"SPID_IDP_IDP_SP_METADATA_DIR=" + missing}, "idp.sp_metadata_dir", "names a directory that does not exist"},
		{"sp metadata dir is file", []string{"SPID_IDP_IDP_SP_METADATA_DIR=" + filepath.Join(f.dir, "tls.crt")}, "idp.sp_metadata_dir", "names a file, not a directory"},
		{"cache duration", []string{"SPID_IDP_IDP_METADATA_CACHE_DURATION=60d"}, "idp.metadata.cache_duration", "must not exceed idp.metadata.valid_for"},
		{"relay state", []string{"SPID_IDP_IDP_REQUEST_MAX_RELAY_STATE=40"}, "idp.request.max_relay_state", "must be between 80"},
		{"request bytes", []string{"SPID_IDP_IDP_REQUEST_MAX_BYTES=10MiB"}, "idp.request.max_bytes", "must be between 4096 and 1048576"},
		{"idle above lifetime", []string{"SPID_IDP_IDP_SESSION_IDLE_TIMEOUT=9h"}, "idp.session.idle_timeout", "must not exceed idp.session.lifetime (8h0m0s)"},
		{"org url", []string{"SPID_IDP_IDP_ORGANIZATION_URL_EN=www.example.it"}, "idp.organization.url.en", "must be an absolute http(s) URL"},
		{"email", []string{"SPID_IDP_IDP_CONTACT_EMAIL=Mario <m@example.it>"}, "idp.contact.email", "must be a plain e-mail address"},
		{"telephone", []string{"SPID_IDP_IDP_CONTACT_TELEPHONE=06 1234 5678"}, "idp.contact.telephone", "must be an international number without spaces"},
		{"vat", []string{"SPID_IDP_IDP_CONTACT_VAT_NUMBER=12345678901"}, "idp.contact.vat_number", "must be IT followed by 11 digits"},
		{"fiscal code", []string{"SPID_IDP_IDP_CONTACT_FISCAL_CODE=abc"}, "idp.contact.fiscal_code", "must be 11 digits or 16"},
		{"short cookie key", []string{"SPID_IDP_IDP_SESSION_COOKIE_KEY=" + base64.StdEncoding.EncodeToString(make([]byte, 16))}, "idp.session.cookie_key", "must be base64 of at least 32 bytes, got a value that decodes to 16 bytes"},
		{"cookie key not base64", []string{"SPID_IDP_IDP_SESSION_COOKIE_KEY=not base64!"}, "idp.session.cookie_key", "got a value that is not valid base64"},
		{"data key size", []string{"SPID_IDP_SECURITY_DATA_KEY=" + base64.StdEncoding.EncodeToString(make([]byte, 64))}, "security.data_key", "must be base64 of exactly 32 bytes, got a value that decodes to 64 bytes"},
		{"data key equals cookie key", []string{"SPID_IDP_SECURITY_DATA_KEY=" + cookieKeyB64}, "security.data_key", "must differ from idp.session.cookie_key"},
		{"previous key equals current", []string{"SPID_IDP_IDP_SESSION_PREVIOUS_COOKIE_KEY=" + cookieKeyB64}, "idp.session.previous_cookie_key", "must differ"},
		{"previous data key equals current", []string{"SPID_IDP_SECURITY_PREVIOUS_DATA_KEY=" + dataKeyB64}, "security.previous_data_key", "must differ from security.data_key"},
		{"previous data key size", []string{"SPID_IDP_SECURITY_PREVIOUS_DATA_KEY=" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{'p'}, 16))}, "security.previous_data_key", "must be base64 of exactly 32 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// tt.env comes last so it overrides the fixture's secrets.
			env := append(append([]string(nil), f.env...), tt.env...)
			got := problems(t, f.write(t, f.minimal()), dedupEnv(env))
			p := find(got, tt.path)
			if p == nil {
				t.Fatalf("no problem for %s in\n%v", tt.path, got)
			}
			if !strings.Contains(p.Message, tt.msg) {
				t.Errorf("message %q, want it to contain %q", p.Message, tt.msg)
			}
			if len(got) != 1 {
				t.Errorf("want exactly one problem, got\n%v", (&Problems{got}).Error())
			}
			// Every rule here is triggered by a variable: the problem must
			// say which one (or a line, for file-only causes).
			if p.Env == "" && p.Line == 0 {
				t.Errorf("%s does not say where the value came from", p)
			}
		})
	}
}

// dedupEnv keeps the last value of each variable, like a process
// environment built with later assignments winning.
func dedupEnv(env []string) []string {
	idx := map[string]int{}
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := idx[k]; ok {
			out[i] = kv
			continue
		}
		idx[k] = len(out)
		out = append(out, kv)
	}
	return out
}

func TestDemoIsLenient(t *testing.T) {
	// In demo mode http:// URLs, missing signing files, keys and
	// organisation data are all fine.
	c := mustLoad(t, "", []string{
		"SPID_IDP_SERVER_BASE_URL=http://localhost:8080",
		"SPID_IDP_IDP_SIGNING_KEY_FILE=/nonexistent/demo.key",
	})
	if c.IdP.EntityID != "http://localhost:8080" || c.IdP.Signing.KeyFile != "/nonexistent/demo.key" {
		t.Errorf("entity_id %q key_file %q", c.IdP.EntityID, c.IdP.Signing.KeyFile)
	}
	// …but explicit nonsense is still refused.
	got := problems(t, "", []string{"SPID_IDP_SERVER_TLS_CERT_FILE=/x", "SPID_IDP_SECURITY_ARGON2_MEMORY_KIB=1024"})
	if find(got, "server.tls.key_file") == nil || find(got, "security.argon2.memory_kib") == nil {
		t.Errorf("demo must still check contradictions, got %v", got)
	}
}

const (
	secretPW   = "Hunter2-SeCrEt-pw"
	secretKey  = "U0VDUkVULUtFWS1ET05PVExFQUs=" // base64 of 20 bytes
	secretUser = "dsn-user-visible"
)

// TestSecretsNeverShown puts recognisable secrets through every failure
// and output path and greps for them.
func TestSecretsNeverShown(t *testing.T) {
	f := newFixture(t)
	bad := []string{
		"SPID_IDP_STORAGE_DRIVER=postgres",
		"SPID_IDP_STORAGE_POSTGRES_DSN=mysql://" + secretUser + ":" + secretPW + "@db/x",
		"SPID_IDP_CACHE_REDIS_PASSWORD=" + secretPW,
		"SPID_IDP_IDP_SESSION_COOKIE_KEY=" + secretKey,
		"SPID_IDP_SECURITY_DATA_KEY=" + secretPW + "!!not-base64",
	}
	_, err := Load(f.write(t, f.minimal()), bad)
	if err == nil {
		t.Fatal("want problems")
	}
	assertNoSecret(t, "error", err.Error())
	for _, dsn := range []string{
		"postgres://" + secretUser + ":" + secretPW + "@db:5432/x%zz", // bad escape
		"postgres:" + secretPW,
		secretPW + "://x",
		"host=db password=" + secretPW,
	} {
		_, err := Load(f.write(t, f.minimal()), append([]string{"SPID_IDP_STORAGE_DRIVER=postgres", "SPID_IDP_STORAGE_POSTGRES_DSN=" + dsn}, f.env...))
		if err != nil {
			assertNoSecret(t, "dsn error", err.Error())
		}
	}
	// YAML-side type errors on secrets must not echo either.
	doc := f.minimal() + "cache:\n  redis:\n    password: [" + secretPW + "]\nsecurity:\n  data_key: " + secretPW + "\n"
	_, err = Load(f.write(t, doc), nil)
	if err == nil {
		t.Fatal("want problems")
	}
	assertNoSecret(t, "yaml error", err.Error())

	good := append([]string{
		"SPID_IDP_STORAGE_DRIVER=postgres",
		"SPID_IDP_STORAGE_POSTGRES_DSN=postgres://" + secretUser + ":" + secretPW + "@db:5432/spid?sslpassword=" + secretPW,
		"SPID_IDP_CACHE_REDIS_PASSWORD=" + secretPW,
		"SPID_IDP_IDP_SESSION_PREVIOUS_COOKIE_KEY=" + base64.StdEncoding.EncodeToString([]byte(secretPW+secretPW+secretPW)),
	}, f.env...)
	c := mustLoad(t, f.write(t, f.minimal()), good)

	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("config", "config", c)
	slog.New(slog.NewJSONHandler(&js, nil)).Info("config", "config", c)
	red, _ := json.Marshal(c.Redacted())
	plain, _ := json.Marshal(c)
	for name, out := range map[string]string{
		"slog text": text.String(), "slog json": js.String(), "Redacted": string(red), "json.Marshal": string(plain),
		"%v": fmt.Sprintf("%v", c), "%+v": fmt.Sprintf("%+v", *c), "%#v": fmt.Sprintf("%#v", *c), "%s": fmt.Sprintf("%s", c.Security.DataKey),
	} {
		assertNoSecret(t, name, out)
		if strings.Contains(out, cookieKeyB64) || strings.Contains(out, dataKeyB64) || strings.Contains(out, "cccccccc") {
			t.Errorf("%s shows a key:\n%s", name, out)
		}
	}
	if !strings.Contains(text.String(), "postgres://"+secretUser+":redacted@db:5432/spid") {
		t.Errorf("the DSN should still say where it points:\n%s", text.String())
	}
	if !strings.Contains(js.String(), `"password":"[redacted]"`) {
		t.Errorf("set secrets should read [redacted]:\n%s", js.String())
	}
}

func assertNoSecret(t *testing.T, where, s string) {
	t.Helper()
	for _, secret := range []string{secretPW, secretKey, "SECRET-KEY"} {
		if strings.Contains(s, secret) {
			t.Errorf("%s leaks a secret:\n%s", where, s)
		}
	}
}

func TestRedactDSN(t *testing.T) {
	for in, want := range map[string]string{
		"":                                     "",
		"postgres://u:p@h:5432/db?sslmode=x":   "postgres://u:redacted@h:5432/db?[redacted]",
		"postgres://u@h/db":                    "postgres://u@h/db",
		"host=h port=5432 password=p dbname=d": "host=h port=5432 dbname=d [rest redacted]",
		"host=h password='a b' user='x y'":     "host=h [rest redacted]",
		"postgres://u:p@h:5432/db%zz":          redacted,
	} {
		if got := redactDSN(in); got != want {
			t.Errorf("redactDSN(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestExampleValidates(t *testing.T) {
	f := newFixture(t)
	path := filepath.Join(f.dir, "example.yaml")
	if err := os.WriteFile(path, Example, 0o600); err != nil {
		t.Fatal(err)
	}
	secret := func(name, content string) string {
		p := filepath.Join(f.dir, name)
		if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	env := []string{
		// Secrets the example says to pass as files.
		"SPID_IDP_STORAGE_POSTGRES_DSN_FILE=" + secret("dsn", "postgres://spid:pw@db.internal:5432/spid?sslmode=verify-full"),
		"SPID_IDP_CACHE_REDIS_PASSWORD_FILE=" + secret("redis", "pw"),
		"SPID_IDP_IDP_SESSION_COOKIE_KEY_FILE=" + secret("cookie", cookieKeyB64),
		"SPID_IDP_SECURITY_DATA_KEY_FILE=" + secret("data", dataKeyB64),
		// Paths under /etc patched into the temp dir.
		"SPID_IDP_SERVER_TLS_CERT_FILE=" + filepath.Join(f.dir, "tls.crt"),
		"SPID_IDP_SERVER_TLS_KEY_FILE=" + filepath.Join(f.dir, "tls.key"),
		"SPID_IDP_IDP_SIGNING_KEY_FILE=" + filepath.Join(f.dir, "signing.key"),
		"SPID_IDP_IDP_SIGNING_CERT_FILE=" + filepath.Join(f.dir, "signing.crt"),
		"SPID_IDP_IDP_SIGNING_EXTRA_CERT_FILES=" + filepath.Join(f.dir, "next.crt"),
		"SPID_IDP_IDP_SP_METADATA_DIR=" + filepath.Join(f.dir, "sp"),
		"SPID_IDP_IDP_SP_SOURCES=https://registry.spid.example/sp-metadata.xml|" + filepath.Join(f.dir, "signing.crt") + "|1h",
		"SPID_IDP_ENROLMENT_CNS_CA_FILE=" + filepath.Join(f.dir, "signing.crt"),
		"SPID_IDP_ENROLMENT_SIGNATURE_TRUST_FILE=" + filepath.Join(f.dir, "signing.crt"),
		"SPID_IDP_LEGAL_DIR=" + f.dir,
		"SPID_IDP_ENROLMENT_TSA_TRUST_FILE=" + filepath.Join(f.dir, "signing.crt"),
		"SPID_IDP_ENROLMENT_CNS_CERT_FILE=" + filepath.Join(f.dir, "tls.crt"),
		"SPID_IDP_ENROLMENT_CNS_KEY_FILE=" + filepath.Join(f.dir, "tls.key"),
		"SPID_IDP_ENROLMENT_POINTS_OF_SERVICE=" + secret("pos.csv", "kind,name,address,province,hours\nshop,Tabaccheria,Via Roma 1 Roma,RM,9-19"),
	}
	c := mustLoad(t, path, env)
	if c.Storage.Driver != "postgres" || c.Cache.Driver != "redis" || c.Log.Format != "json" || c.IdP.Metadata.ValidFor != 30*24*time.Hour {
		t.Errorf("example not read as written: %+v", c)
	}

	// The example must show every option; secrets appear in comments only.
	shown := map[string]bool{}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			if sub, ok := v.(map[string]any); ok {
				walk(prefix+k+".", sub)
			} else {
				shown[prefix+k] = true
			}
		}
	}
	var doc map[string]any
	if err := yaml.Unmarshal(Example, &doc); err != nil {
		t.Fatal(err)
	}
	walk("", doc)
	for _, l := range schema().leaves {
		if l.secret() {
			if shown[l.path] {
				t.Errorf("example.yaml sets secret %s in clear", l.path)
			}
			if !bytes.Contains(Example, []byte(l.name+":")) || !bytes.Contains(Example, []byte(l.env+"_FILE")) {
				t.Errorf("example.yaml should mention %s and %s_FILE in a comment", l.path, l.env)
			}
			continue
		}
		if !shown[l.path] {
			t.Errorf("example.yaml does not show %s", l.path)
		}
	}
}

func TestSchemaDocumented(t *testing.T) {
	s := schema()
	var check func(f *field)
	check = func(f *field) {
		for _, c := range f.children {
			if strings.TrimSpace(c.doc) == "" {
				t.Errorf("%s has no doc tag", c.path)
			}
			if c.isSection() {
				check(c)
			}
		}
	}
	check(s.root)
	if _, ok := reflect.TypeFor[Config]().FieldByName("Demo"); !ok {
		t.Fatal("Demo field missing")
	}
	ref := Reference()
	for _, l := range s.leaves {
		if !strings.Contains(ref, "| `"+l.path+"` | `"+l.env+"` |") {
			t.Errorf("Reference lacks the row for %s", l.path)
		}
		if l.def != "" && l.defDoc != "" {
			t.Errorf("%s has both default and defaultdoc", l.path)
		}
		// An option named X_FILE must not be mistaken for the _FILE form of
		// an option X.
		if base, ok := strings.CutSuffix(l.env, "_FILE"); ok {
			if other, clash := s.byEnv[base]; clash {
				t.Errorf("%s clashes with the _FILE form of %s", l.path, other.path)
			}
		}
	}
	if len(s.byEnv) != len(s.leaves) {
		t.Errorf("environment names collide: %d names for %d options", len(s.byEnv), len(s.leaves))
	}
	if strings.Count(ref, "\n| `") != len(s.leaves) {
		t.Errorf("Reference has %d rows, want %d", strings.Count(ref, "\n| `"), len(s.leaves))
	}
}

func TestEnsureDemoKeys(t *testing.T) {
	dir := t.TempDir()
	c := mustLoad(t, "", []string{"SPID_IDP_DATA_DIR=" + dir})
	if err := c.EnsureDemoKeys(); err != nil {
		t.Fatal(err)
	}
	if len(c.IdP.Session.CookieKey) != 32 || len(c.Security.DataKey) != 32 || bytes.Equal(c.IdP.Session.CookieKey, c.Security.DataKey) {
		t.Fatal("demo keys not generated, or equal")
	}
	for _, name := range []string{"cookie.key", "data.key"} {
		st, err := os.Stat(filepath.Join(dir, "keys", name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", name, st.Mode().Perm())
		}
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "keys"))
	if len(entries) != 2 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	// A restart reads the same keys.
	c2 := mustLoad(t, "", []string{"SPID_IDP_DATA_DIR=" + dir})
	if err := c2.EnsureDemoKeys(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(c.IdP.Session.CookieKey, c2.IdP.Session.CookieKey) || !bytes.Equal(c.Security.DataKey, c2.Security.DataKey) {
		t.Error("keys changed across restarts")
	}
	// A configured key is kept.
	c3 := mustLoad(t, "", []string{"SPID_IDP_DATA_DIR=" + dir, "SPID_IDP_IDP_SESSION_COOKIE_KEY=" + cookieKeyB64})
	if err := c3.EnsureDemoKeys(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(c3.IdP.Session.CookieKey, bytes.Repeat([]byte{'c'}, 32)) {
		t.Error("configured cookie key replaced")
	}
	// A corrupt key file is an error, not a silent new key.
	if err := os.WriteFile(filepath.Join(dir, "keys", "data.key"), []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c4 := mustLoad(t, "", []string{"SPID_IDP_DATA_DIR=" + dir})
	if err := c4.EnsureDemoKeys(); err == nil {
		t.Error("corrupt data.key accepted")
	}
	// Outside demo mode nothing is written.
	prod := &Config{DataDir: t.TempDir()}
	if err := prod.EnsureDemoKeys(); err != nil || len(prod.Security.DataKey) != 0 {
		t.Errorf("EnsureDemoKeys outside demo: %v", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), nil)
	var ps *Problems
	if err == nil || errors.As(err, &ps) {
		t.Fatalf("a missing file is an I/O error, not *Problems: %v", err)
	}
}

func TestSuggest(t *testing.T) {
	cands := []string{"read_timeout", "write_timeout", "idle_timeout", "listen", "tls", "db"}
	for got, want := range map[string]string{
		"read_timout":  "read_timeout",
		"raed_timeout": "read_timeout",
		"ReadTimeout":  "read_timeout",
		"lsiten":       "listen",
		"tsl":          "tls",
		"ssl":          "",
		"dc":           "db",
		"xyz":          "",
		"timeout":      "",
	} {
		if s := suggest(got, cands); s != want {
			t.Errorf("suggest(%q) = %q, want %q", got, s, want)
		}
	}
	for _, tt := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"abc", "", 3}, {"kitten", "sitting", 3}, {"ab", "ba", 1}, {"città", "citta", 1}} {
		if d := editDistance(tt.a, tt.b); d != tt.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, d, tt.d)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"30s": 30 * time.Second, "30d": 720 * time.Hour, "1d12h": 36 * time.Hour, "1h30m": 90 * time.Minute} {
		if d, err := parseDuration(in); err != nil || d != want {
			t.Errorf("parseDuration(%q) = %v, %v", in, d, err)
		}
	}
	for _, in := range []string{"", "d", "xd", "1d-1h", "30", "1.5d", "99999999d"} {
		if _, err := parseDuration(in); err == nil {
			t.Errorf("parseDuration(%q) accepted", in)
		}
	}
}

func TestSecretStringers(t *testing.T) {
	s, k := Secret("x"), Key("y")
	for _, out := range []string{s.String(), s.GoString(), k.String(), k.GoString(), fmt.Sprint(s), fmt.Sprintf("%q", k), s.LogValue().String()} {
		if strings.Contains(out, "x") || strings.Contains(out, "y") {
			t.Errorf("secret shown: %q", out)
		}
	}
	if Secret("").String() != "" || Key(nil).String() != "" {
		t.Error("unset secrets should print empty")
	}
}

func TestMissingValuePointsAtItsCause(t *testing.T) {
	f := newFixture(t)
	doc := f.minimal() + "storage:\n  driver: postgres\ncache:\n  driver: redis\n"
	got := problems(t, f.write(t, doc), f.env)
	want := []string{
		"storage.postgres.dsn: is required when storage.driver is postgres (line 16)",
		"cache.redis.addr: is required when cache.driver is redis (line 18)",
	}
	if len(got) != 2 || got[0].String() != want[0] || got[1].String() != want[1] {
		t.Errorf("got %v, want %v", got, want)
	}
	got = problems(t, f.write(t, f.minimal()), append([]string{"SPID_IDP_CACHE_DRIVER=redis"}, f.env...))
	if len(got) != 1 || got[0].Env != "SPID_IDP_CACHE_DRIVER" {
		t.Errorf("got %v, want the problem attributed to SPID_IDP_CACHE_DRIVER", got)
	}
}

func TestTrustEveryoneRefused(t *testing.T) {
	f := newFixture(t)
	got := problems(t, f.write(t, f.minimal()+"  \n"), append([]string{"SPID_IDP_SERVER_TRUSTED_PROXIES=10.0.0.0/8,::/0"}, f.env...))
	if p := find(got, "server.trusted_proxies[1]"); p == nil || !strings.Contains(p.Message, "trusts every address") {
		t.Errorf("::/0 accepted: %v", got)
	}
}

func TestUnreadableFile(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads every file")
	}
	f := newFixture(t)
	locked := filepath.Join(f.dir, "locked.key")
	if err := os.WriteFile(locked, []byte("x"), 0o000); err != nil {
		t.Fatal(err)
	}
	got := problems(t, f.write(t, f.minimal()), append([]string{"SPID_IDP_IDP_SIGNING_KEY_FILE=" + locked}, f.env...))
	if p := find(got, "idp.signing.key_file"); p == nil || !strings.Contains(p.Message, "cannot be read") {
		t.Errorf("unreadable key accepted: %v", got)
	}
}

func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 {k: v}\n")
	for i := 1; i < 30; i++ {
		fmt.Fprintf(&b, "a%d: &a%d {<<: [*a%d, *a%d, *a%d, *a%d]}\n", i, i, i-1, i-1, i-1, i-1)
	}
	b.WriteString("server:\n  <<: *a29\n")
	start := time.Now()
	_, err := load([]byte(b.String()), false, nil)
	if err == nil || !strings.Contains(err.Error(), "expands to more than") {
		t.Errorf("alias bomb not stopped: %.300v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("alias bomb took %s", time.Since(start))
	}
}

// FuzzLoad feeds arbitrary YAML to the decoder: it must never panic and
// must either succeed or return *Problems.
func FuzzLoad(f *testing.F) {
	f.Add(Example)
	f.Add([]byte("server:\n  base_url: https://x.it\n  <<: {listen: ':1'}\n"))
	f.Add([]byte("a: &a [1, 2]\nserver:\n  trusted_proxies: *a\n"))
	f.Add([]byte("- x\n"))
	f.Add([]byte("log: {level: [a, {b: c}]}\n---\nx: 1\n"))
	f.Add([]byte("security:\n  argon2:\n    threads: 99999999999999999999999\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := load(data, false, nil)
		if err != nil {
			var ps *Problems
			if !errors.As(err, &ps) || len(ps.List) == 0 {
				t.Fatalf("error is not *Problems: %v", err)
			}
			for _, p := range ps.List {
				if strings.ContainsAny(p.String(), "\n\r") {
					t.Fatalf("problem spans lines: %q", p.String())
				}
			}
			return
		}
		if c == nil {
			t.Fatal("nil config without error")
		}
	})
}

func TestSelfReferences(t *testing.T) {
	for _, doc := range []string{
		"server: &s\n  <<: *s\n",
		"server: &s {<<: [*s, *s]}\n",
		"server:\n  trusted_proxies: &p [*p]\n",
		"a: &a [*a]\nserver:\n  trusted_proxies: *a\n",
	} {
		done := make(chan error, 1)
		go func() { _, err := load([]byte(doc), false, nil); done <- err }()
		select {
		case err := <-done:
			var ps *Problems
			if !errors.As(err, &ps) {
				t.Errorf("%q: %v", doc, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%q: no answer", doc)
		}
	}
}

func TestLongValuesClipped(t *testing.T) {
	long := strings.Repeat("x", 5000)
	_, err := load([]byte("log:\n  level: "+long+"\n  "+long+": 1\n"), false, nil)
	if err == nil {
		t.Fatal("want problems")
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		if len(line) > 400 {
			t.Errorf("line of %d bytes: %.120s…", len(line), line)
		}
	}
}

// TestSPSources: idp.sp_sources items as YAML mappings or in the
// environment form; each mistake is reported with its item's path.
func TestSPSources(t *testing.T) {
	f := newFixture(t)
	doc := f.minimal() + strings.ReplaceAll(`  sp_sources:
    - url: https://registry.example.it/sp.xml
      certificate: DIR/signing.crt
    - file: DIR/signing.crt
      certificate: DIR/next.crt
      refresh: 30m
`, "DIR", f.dir)
	c := mustLoad(t, f.write(t, doc), f.env)
	want := []SPSource{
		{URL: "https://registry.example.it/sp.xml", Certificate: filepath.Join(f.dir, "signing.crt"), Refresh: time.Hour},
		{File: filepath.Join(f.dir, "signing.crt"), Certificate: filepath.Join(f.dir, "next.crt"), Refresh: 30 * time.Minute},
	}
	if !reflect.DeepEqual(c.IdP.SPSources, want) {
		t.Errorf("sp_sources = %+v, want %+v", c.IdP.SPSources, want)
	}
	env := append(append([]string{}, f.env...), "SPID_IDP_IDP_SP_SOURCES=https://r.example.it/a.xml|"+filepath.Join(f.dir, "signing.crt")+"|2h")
	c = mustLoad(t, f.write(t, f.minimal()), env)
	if len(c.IdP.SPSources) != 1 || c.IdP.SPSources[0].Refresh != 2*time.Hour || c.IdP.SPSources[0].URL != "https://r.example.it/a.xml" {
		t.Errorf("from the environment: %+v", c.IdP.SPSources)
	}

	bad := f.minimal() + `  sp_sources:
    - url: http://registry.example.it/sp.xml
      file: /x.xml
    - url: ftp://x
      certificate: /missing.crt
      refresh: 10s
    - file: /missing.xml
      certifcate: /x
`
	var lines []string
	for _, p := range problems(t, f.write(t, bad), f.env) {
		lines = append(lines, p.String())
	}
	got := strings.Join(lines, "\n")
	for _, w := range []string{
		"idp.sp_sources[0]: must set exactly one of url and file",
		"idp.sp_sources[0].certificate: is required",
		`idp.sp_sources[1].url: must be an http(s) URL, got "ftp://x"`,
		`idp.sp_sources[1].certificate: names a file that does not exist`,
		"idp.sp_sources[1].refresh: must be at least 1m",
		"idp.sp_sources[2].certifcate: unknown key, did you mean `certificate`?",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("no %q in:\n%s", w, got)
		}
	}
}

// TestOIDCProblemsAllAtOnce: an enabled OpenID Provider missing its keys,
// anchors and federation_entity reports each problem, in one run.
func TestOIDCProblemsAllAtOnce(t *testing.T) {
	f := newFixture(t)
	doc := f.minimal() + `oidc:
  enabled: true
  issuer: https://elsewhere.example.it/op/
  signing_key_files: [DIR/missing.key]
  federation:
    trust_anchors: ["https://registry.spid.gov.it", "http://ta.example.it|DIR/signing.crt"]
    authority_hints: ["not a url"]
    logo_uri: https://www.example.it/logo.png
    contacts: ["not-an-address"]
`
	got := map[string]bool{}
	for _, p := range problems(t, f.write(t, strings.ReplaceAll(doc, "DIR", f.dir)), f.env) {
		got[p.Path] = true
	}
	for _, want := range []string{
		"oidc.issuer", "oidc.pairwise_key", "oidc.federation_key_file", "oidc.signing_key_files[0]",
		"oidc.federation.trust_anchors[0]", "oidc.federation.trust_anchors[1]", "oidc.federation.authority_hints[0]",
		"oidc.federation.policy_uri", "oidc.federation.logo_uri", "oidc.federation.contacts[0]",
	} {
		if !got[want] {
			t.Errorf("no problem reported for %s (got %v)", want, got)
		}
	}
	// Disabled, the same section is not checked.
	c := mustLoad(t, f.write(t, strings.ReplaceAll(strings.Replace(doc, "enabled: true", "enabled: false", 1), "DIR", f.dir)), f.env)
	if c.OIDC.Enabled {
		t.Fatal("oidc enabled")
	}
}

// TestGrantTokenLifetime: the grant-token lifetime defaults to the spec's
// 300 s and accepts whole seconds from 1 s to 1 h; anything else is a
// problem of oidc.grant_token_lifetime.
func TestGrantTokenLifetime(t *testing.T) {
	f := newFixture(t)
	// The OP is off (grant tokens serve SAML too): the option is checked
	// all the same.
	doc := func(extra string) string {
		return f.minimal() + "oidc:\n  enabled: false\n" + extra
	}
	if c := mustLoad(t, f.write(t, f.minimal()), f.env); c.OIDC.GrantTokenLifetime != 300*time.Second {
		t.Errorf("default %s, want 300s", c.OIDC.GrantTokenLifetime)
	}
	for _, tc := range []struct {
		value string
		ok    bool
	}{
		{"1s", true}, {"5s", true}, {"10m", true}, {"1h", true},
		{"0s", false}, {"-5s", false}, {"1500ms", false}, {"61m", false}, {"forever", false},
	} {
		path := f.write(t, doc("  grant_token_lifetime: "+tc.value+"\n"))
		var found bool
		for _, p := range problems(t, path, f.env) {
			found = found || p.Path == "oidc.grant_token_lifetime"
		}
		if found == tc.ok {
			t.Errorf("grant_token_lifetime %s: problem reported %v, want %v", tc.value, found, !tc.ok)
		}
	}
}

// TestDataKeyWrappingRules: a data key wrapped by the HSM replaces the
// clear one, and needs the token and the label of its wrapping key; every
// missing piece is reported at once.
func TestDataKeyWrappingRules(t *testing.T) {
	f := newFixture(t)
	wrapped := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{'w'}, 32+pkcs11.WrapOverhead))
	module := filepath.Join(f.dir, "tls.crt") // any existing file stands for the module
	hsm := []string{"SPID_IDP_SECURITY_PKCS11_MODULE=" + module, "SPID_IDP_SECURITY_PKCS11_TOKEN_LABEL=t", "SPID_IDP_SECURITY_PKCS11_PIN=1234"}
	tests := []struct {
		name string
		env  []string
		want map[string]string // path → part of its message
	}{
		{"wrapped and clear", append([]string{"SPID_IDP_SECURITY_DATA_KEY_WRAPPED=" + wrapped, "SPID_IDP_SECURITY_PKCS11_DATA_KEY_LABEL=w"}, hsm...),
			map[string]string{"security.data_key_wrapped": "set either security.data_key (in clear) or security.data_key_wrapped"}},
		{"wrapped without label or token", []string{"SPID_IDP_SECURITY_DATA_KEY=", "SPID_IDP_SECURITY_DATA_KEY_WRAPPED=" + wrapped},
			map[string]string{
				"security.pkcs11.data_key_label": "is required with security.data_key_wrapped",
				"security.pkcs11.module":         "is required with security.data_key_wrapped",
				"security.pkcs11.token_label":    "is required with security.data_key_wrapped",
				"security.pkcs11.pin":            "is required with security.data_key_wrapped",
			}},
		{"wrapped of the wrong size", append([]string{"SPID_IDP_SECURITY_DATA_KEY=", "SPID_IDP_SECURITY_PKCS11_DATA_KEY_LABEL=w",
			"SPID_IDP_SECURITY_DATA_KEY_WRAPPED=" + base64.StdEncoding.EncodeToString(make([]byte, 32))}, hsm...),
			map[string]string{"security.data_key_wrapped": "must be base64 of the 60 bytes spid-idp keys wrap-data-key prints, got a value that decodes to 32 bytes"}},
		{"label without wrapped key", append([]string{"SPID_IDP_SECURITY_PKCS11_DATA_KEY_LABEL=w"}, hsm...),
			map[string]string{"security.pkcs11.data_key_label": "is set but security.data_key_wrapped is not"}},
		{"previous wrapped equals current", append([]string{"SPID_IDP_SECURITY_DATA_KEY=", "SPID_IDP_SECURITY_PKCS11_DATA_KEY_LABEL=w",
			"SPID_IDP_SECURITY_DATA_KEY_WRAPPED=" + wrapped, "SPID_IDP_SECURITY_PREVIOUS_DATA_KEY_WRAPPED=" + wrapped}, hsm...),
			map[string]string{"security.previous_data_key_wrapped": "must differ from security.data_key_wrapped"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := dedupEnv(append(append([]string(nil), f.env...), tt.env...))
			got := problems(t, f.write(t, f.minimal()), env)
			for path, msg := range tt.want {
				p := find(got, path)
				if p == nil {
					t.Errorf("no problem for %s in\n%v", path, got)
				} else if !strings.Contains(p.Message, msg) {
					t.Errorf("%s: %q, want it to contain %q", path, p.Message, msg)
				}
			}
			if len(got) != len(tt.want) {
				t.Errorf("want %d problems, got\n%v", len(tt.want), (&Problems{got}).Error())
			}
		})
	}
	// Wrapped alone, with the token named: valid (the HSM opens it at start-up).
	env := dedupEnv(append(append([]string(nil), f.env...), append([]string{"SPID_IDP_SECURITY_DATA_KEY=",
		"SPID_IDP_SECURITY_PKCS11_DATA_KEY_LABEL=w", "SPID_IDP_SECURITY_DATA_KEY_WRAPPED=" + wrapped}, hsm...)...))
	mustLoad(t, f.write(t, f.minimal()), env)
}

// TestAttributeAuthoritiesWithoutOIDC: AA discovery for SAML alone needs
// valid trust anchors and nothing else of the OP; it is off by default.
func TestAttributeAuthoritiesWithoutOIDC(t *testing.T) {
	f := newFixture(t)
	anchors := f.dir + "/ta.jwks.json"
	if err := os.WriteFile(anchors, []byte(`{"keys":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	c := mustLoad(t, f.write(t, f.minimal()), f.env)
	if c.OIDC.AADiscovery() {
		t.Fatal("AA discovery on by default with the OP off")
	}
	for _, tc := range []struct {
		name, section string
		want          map[string]string // path → part of its message; nil: valid
	}{
		{"no anchors", "  federation:\n    attribute_authorities: true\n",
			map[string]string{"oidc.federation.trust_anchors": "is required when oidc.federation.attribute_authorities is true"}},
		{"bad anchors", "  federation:\n    attribute_authorities: true\n    trust_anchors: [\"https://registry.spid.gov.it\", \"http://ta.example.it|/missing.json\"]\n",
			map[string]string{"oidc.federation.trust_anchors[0]": "must be ENTITY_ID|JWKS_FILE", "oidc.federation.trust_anchors[1]": ""}},
		{"anchors only", "  federation:\n    attribute_authorities: true\n    trust_anchors: [\"https://registry.spid.gov.it|" + anchors + "\"]\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := f.write(t, f.minimal()+"oidc:\n  enabled: false\n"+tc.section)
			if tc.want == nil {
				if c := mustLoad(t, file, f.env); !c.OIDC.AADiscovery() || c.OIDC.Enabled {
					t.Fatalf("AA discovery %v, OP %v", c.OIDC.AADiscovery(), c.OIDC.Enabled)
				}
				return
			}
			got := map[string]string{}
			for _, p := range problems(t, file, f.env) {
				got[p.Path] = p.String()
			}
			for path, msg := range tc.want {
				if !strings.Contains(got[path], msg) || got[path] == "" {
					t.Errorf("%s: got %q, want %q (all: %v)", path, got[path], msg, got)
				}
			}
			if len(got) != len(tc.want) {
				t.Errorf("problems %v, want only %v", got, tc.want)
			}
		})
	}
}
