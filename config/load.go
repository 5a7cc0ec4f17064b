package config

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
)

// maxFileBytes bounds the configuration file and every *_FILE secret, so a
// variable pointing at /dev/zero cannot exhaust memory.
const maxFileBytes = 1 << 20

// Load reads the configuration file at path ("" means none: demo mode),
// applies environment overrides from environ (os.Environ() form), checks
// everything and fills defaults.
//
// A *Problems error lists every problem in the file and the environment;
// any other error means the file could not be read at all.
func Load(path string, environ []string) (*Config, error) {
	if path == "" {
		return load(nil, true, environ)
	}
	data, err := readLimited(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return load(data, false, environ)
}

func load(data []byte, demo bool, environ []string) (*Config, error) {
	cfg := &Config{Demo: demo}
	applyDefaults(cfg)
	ps := newProblemSet()
	if !demo {
		decodeYAML(data, cfg, ps)
	}
	applyEnv(environ, cfg, ps)
	fillComputed(cfg)
	validate(cfg, ps)
	if err := ps.err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxFileBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxFileBytes)
	}
	return data, nil
}

// applyDefaults sets every literal `default` tag. The tags are parsed by the
// same code as environment values; a tag that does not parse is a bug
// caught by the tests.
func applyDefaults(cfg *Config) {
	root := reflect.ValueOf(cfg).Elem()
	for _, f := range schema().leaves {
		if f.def == "" {
			continue
		}
		v, msg := f.leafParser(f.def)
		if msg != "" {
			panic(fmt.Sprintf("config: default of %s: %s", f.path, msg))
		}
		root.FieldByIndex(f.index).Set(v)
	}
}

// applyEnv applies SPID_IDP_* variables. NAME sets an option; NAME_FILE
// names a file whose content (one trailing newline removed) is the value.
// Empty values are ignored so that `FOO=` in a compose file changes nothing.
func applyEnv(environ []string, cfg *Config, ps *problemSet) {
	s := schema()
	vars := map[string]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(k, EnvPrefix) && k != EnvConfigFile {
			vars[k] = v // later entries win, as in the process environment
		}
	}
	names := make([]string, 0, len(vars))
	for k := range vars {
		names = append(names, k)
	}
	sort.Strings(names)

	root := reflect.ValueOf(cfg).Elem()
	setBy := map[*field]string{}
	for _, name := range names {
		raw := vars[name]
		f, direct := s.byEnv[name]
		if !direct {
			if base, ok := strings.CutSuffix(name, "_FILE"); ok {
				f = s.byEnv[base]
			}
		}
		if f == nil {
			if sec, ok := sectionEnv(name); ok {
				ps.addEnv(name, name, "names the section %s, not an option; set its options one by one, e.g. %s", sec.path, firstLeaf(sec).env)
				continue
			}
			ps.addEnv(name, name, "unknown variable%s", envHint(name))
			continue
		}
		if prev, ok := setBy[f]; ok {
			ps.addEnv(f.path, name, "is set by both %s and %s; use one", prev, name)
			continue
		}
		if !direct {
			if raw == "" {
				ps.addEnv(f.path, name, "names no file")
				setBy[f] = name
				continue
			}
			data, err := readLimited(raw)
			if err != nil {
				ps.addEnv(f.path, name, "cannot read the file: %s", fileErr(err))
				setBy[f] = name
				continue
			}
			raw = strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
		} else if raw == "" {
			continue
		}
		setBy[f] = name
		for p := range ps.lines {
			if p == f.path || strings.HasPrefix(p, f.path+"[") {
				delete(ps.lines, p)
			}
		}
		ps.envs[f.path] = name
		v, msg := f.leafParser(raw)
		if msg != "" {
			ps.addEnv(f.path, name, "%s", msg)
			continue
		}
		root.FieldByIndex(f.index).Set(v)
	}
}

func sectionEnv(name string) (*field, bool) {
	for path, f := range schema().byPath {
		if f.isSection() && EnvPrefix+strings.ToUpper(strings.ReplaceAll(path, ".", "_")) == strings.TrimSuffix(name, "_FILE") {
			return f, true
		}
	}
	return nil, false
}

func firstLeaf(f *field) *field {
	for f.isSection() {
		f = f.children[0]
	}
	return f
}

func envHint(name string) string {
	s := schema()
	cands := make([]string, 0, len(s.byEnv))
	for k := range s.byEnv {
		cands = append(cands, k)
	}
	base, isFile := strings.CutSuffix(name, "_FILE")
	if isFile {
		if h := suggest(base, cands); h != "" {
			return fmt.Sprintf(", did you mean %s_FILE?", h)
		}
	}
	if h := suggest(name, cands); h != "" {
		return fmt.Sprintf(", did you mean %s?", h)
	}
	return ""
}

// fileErr describes a file error without repeating the path twice.
func fileErr(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Sprintf("%s %q: %v", pe.Op, pe.Path, pe.Err)
	}
	return err.Error()
}

// fillComputed sets the defaults that depend on other options.
func fillComputed(c *Config) {
	if c.Storage.SQLite.Path == "" {
		c.Storage.SQLite.Path = filepath.Join(c.DataDir, "spid-idp.db")
	}
	if c.Mail.OutboxDir == "" {
		c.Mail.OutboxDir = filepath.Join(c.DataDir, "outbox", "mail")
	}
	if c.SMS.OutboxDir == "" {
		c.SMS.OutboxDir = filepath.Join(c.DataDir, "outbox", "sms")
	}
	if c.Enrolment.EvidenceDir == "" {
		c.Enrolment.EvidenceDir = filepath.Join(c.DataDir, "evidence")
	}
	if c.Demo && c.Enrolment.Responsible == "" {
		c.Enrolment.Responsible = "Responsabile della verifica (demo)"
		if c.Enrolment.ResponsibleEN == "" {
			c.Enrolment.ResponsibleEN = "Identity verification officer (demo)"
		}
	}
	if c.Enrolment.ResponsibleEN == "" {
		c.Enrolment.ResponsibleEN = c.Enrolment.Responsible
	}
	if c.IdP.SPMetadataDir == "" {
		c.IdP.SPMetadataDir = filepath.Join(c.DataDir, "sp-metadata")
	}
	if c.Demo {
		if c.IdP.SPIDCodePrefix == "" {
			c.IdP.SPIDCodePrefix = "DEMO"
		}
		if c.Server.BaseURL == "" {
			c.Server.BaseURL = demoBaseURL(c.Server.Listen)
		}
		if c.IdP.Signing.KeyFile == "" {
			c.IdP.Signing.KeyFile = filepath.Join(c.DataDir, "keys", "signing.key")
		}
		if c.IdP.Signing.CertFile == "" {
			c.IdP.Signing.CertFile = filepath.Join(c.DataDir, "keys", "signing.crt")
		}
		org := &c.IdP.Organization
		if org.Name.IT == "" {
			org.Name.IT, org.Name.EN = "IdP SPID dimostrativo", "Demo SPID IdP"
		}
		if org.DisplayName.IT == "" {
			org.DisplayName.IT, org.DisplayName.EN = "IdP SPID dimostrativo", "Demo SPID IdP"
		}
		if org.URL.IT == "" {
			org.URL.IT = c.Server.BaseURL
		}
	}
	if c.Server.MetricsListen == "" {
		// Demo mode keeps /metrics where `make run` has always shown it;
		// production moves it to loopback, away from the public listener.
		c.Server.MetricsListen = "127.0.0.1:9090"
		if c.Demo {
			c.Server.MetricsListen = MetricsOnSite
		}
	}
	c.Server.BaseURL = strings.TrimRight(c.Server.BaseURL, "/")
	if c.IdP.EntityID == "" {
		c.IdP.EntityID = c.Server.BaseURL
	}
	for _, l := range []*Localized{&c.IdP.Organization.Name, &c.IdP.Organization.DisplayName, &c.IdP.Organization.URL} {
		if l.EN == "" {
			l.EN = l.IT
		}
	}
	if c.IdP.Name == "" {
		c.IdP.Name = c.IdP.Organization.DisplayName.IT
		if c.IdP.Name == "" {
			c.IdP.Name = "SPID IdP"
		}
	}
	fillOIDC(c)
	if c.Mail.From == "" {
		host := "localhost"
		if u, err := url.Parse(c.Server.BaseURL); err == nil && u.Hostname() != "" {
			host = u.Hostname()
		}
		c.Mail.From = c.IdP.Name + " <noreply@" + host + ">"
	}
}

// demoBaseURL is the URL a browser on the same machine uses to reach the
// demo listener: wildcard hosts become the loopback address.
func demoBaseURL(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "http://127.0.0.1:8080"
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// DemoKeyFiles are the files EnsureDemoKeys keeps under data_dir.
const (
	demoCookieKeyFile = "cookie.key"
	demoDataKeyFile   = "data.key"
)

// EnsureDemoKeys gives a demo configuration its cookie and data keys:
// read from <data_dir>/keys/{cookie,data}.key, or generated there (mode
// 0600) on first start so sessions survive restarts. It does nothing
// outside demo mode or for keys already configured. Call it from the server
// start-up, not from `config validate`, which must not write files.
func (c *Config) EnsureDemoKeys() error {
	if !c.Demo {
		return nil
	}
	dir := filepath.Join(c.DataDir, "keys")
	for _, k := range []struct {
		dst  *Key
		file string
	}{{&c.IdP.Session.CookieKey, demoCookieKeyFile}, {&c.Security.DataKey, demoDataKeyFile}} {
		if len(*k.dst) > 0 {
			continue
		}
		if k.dst == &c.Security.DataKey && len(c.Security.DataKeyWrapped) > 0 {
			continue // the HSM opens it at start-up
		}
		key, err := loadOrCreateKey(dir, k.file)
		if err != nil {
			return fmt.Errorf("config: demo key: %w", err)
		}
		*k.dst = key
	}
	return nil
}

func loadOrCreateKey(dir, name string) (Key, error) {
	path := filepath.Join(dir, name)
	data, err := readLimited(path)
	if err == nil {
		b, ok := decodeBase64(strings.TrimSpace(string(data)))
		if !ok || len(b) != 32 {
			return nil, fmt.Errorf("%s does not hold base64 of 32 bytes; delete it to get a new key", path)
		}
		return Key(b), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	// Write a temporary file and hard-link it into place: the key appears
	// complete or not at all, and if two processes start at once the loser
	// reads the winner's key.
	tmp, err := os.CreateTemp(dir, name+".tmp*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, err
	}
	if _, err := tmp.WriteString(base64.StdEncoding.EncodeToString(b) + "\n"); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, fs.ErrExist) {
		return loadOrCreateKey(dir, name)
	} else if err != nil {
		return nil, err
	}
	return Key(b), nil
}

// fillOIDC sets the OIDC defaults that follow from other options.
func fillOIDC(c *Config) {
	o := &c.OIDC
	if c.Demo {
		o.Enabled = true
		o.Federation.AttributeAuthorities = true
		if o.FederationKeyFile == "" {
			o.FederationKeyFile = filepath.Join(c.DataDir, "keys", "oidc-federation.key")
		}
		if len(o.SigningKeyFiles) == 0 {
			o.SigningKeyFiles = []string{filepath.Join(c.DataDir, "keys", "oidc-signing.key")}
		}
		if o.Federation.PolicyURI == "" {
			o.Federation.PolicyURI = c.Server.BaseURL + "/privacy"
		}
		if o.Federation.LogoURI == "" {
			o.Federation.LogoURI = c.Server.BaseURL + "/static/logo.svg"
		}
	}
	if o.Issuer == "" {
		o.Issuer = c.Server.BaseURL + "/oidc/op"
	}
	f := &o.Federation
	if f.OrganizationName == "" {
		f.OrganizationName = c.IdP.Organization.Name.IT
	}
	if f.HomepageURI == "" {
		f.HomepageURI = c.IdP.Organization.URL.IT
	}
	if len(f.Contacts) == 0 && c.IdP.Contact.Email != "" {
		f.Contacts = []string{c.IdP.Contact.Email}
	}
	if len(f.Contacts) == 0 && c.Demo {
		f.Contacts = []string{"demo@example.invalid"}
	}
}
