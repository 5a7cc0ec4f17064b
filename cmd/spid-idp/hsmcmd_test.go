package main

import (
	"context"
	"encoding/base64"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/demo"
	"github.com/spid-idp/spid-idp/internal/softhsmtest"
	"github.com/spid-idp/spid-idp/keys"
)

var (
	wrappedLineRE = regexp.MustCompile(`security\.data_key_wrapped: (\S+)`)
	keyIDRE       = regexp.MustCompile(`key ID ([0-9a-f]{8})`)
	responseRE    = regexp.MustCompile(`name="SAMLResponse" value="([^"]*)"`)
	sigCertRE     = regexp.MustCompile(`<ds:X509Certificate>([^<]*)</ds:X509Certificate>`)
)

// freeAddr is a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// serveUntilReady runs `spid-idp serve` in the background until stop is
// called; it fails the test unless /readyz answers.
func (d *demoEnv) serveUntilReady(base string) (stop func() int) {
	d.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan int, 1)
	var errb strings.Builder
	environ := append([]string(nil), d.environ...)
	go func() {
		served <- dispatch(ctx, env{stdout: io.Discard, stderr: &errb, stdin: strings.NewReader(""), environ: environ}, []string{"serve"})
	}()
	c := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := c.Get(base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case code := <-served:
			cancel()
			d.t.Fatalf("serve exited %d before it was ready: %s", code, errb.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			d.t.Fatalf("serve did not become ready: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	done := false
	stop = func() int {
		if done {
			return exitOK
		}
		done = true
		cancel()
		return <-served
	}
	d.t.Cleanup(func() { stop() })
	return stop
}

// demoSPLogin logs the demo citizen in at level 1 through the demo SP and
// returns the signature certificate of the Response, which the demo SP must
// have accepted.
func demoSPLogin(t *testing.T, base string) (signer string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	res, err := c.Get(base + "/demo-sp/")
	if err != nil {
		t.Fatal(err)
	}
	home := readPage(t, res)
	login := submitForm(t, c, home, "/demo-sp/login", url.Values{"level": {"1"}})
	consent := submitForm(t, c, login, "/login", url.Values{"username": {demo.CitizenUsername}, "password": {demo.CitizenPassword}, "op": {"submit"}})
	transfer := submitForm(t, c, consent, "/consent", url.Values{"op": {"accept"}})
	m := responseRE.FindStringSubmatch(transfer.body)
	if m == nil {
		t.Fatalf("no SAMLResponse:\n%s", transfer.body)
	}
	xml, err := base64.StdEncoding.DecodeString(html.UnescapeString(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	sp := submitForm(t, c, transfer, "/demo-sp/acs", nil)
	if !strings.Contains(sp.body, "TINIT-RSSMRA80A01H501U") {
		t.Fatalf("the demo SP refused the Response:\n%s", sp.body)
	}
	cm := sigCertRE.FindSubmatch(xml)
	if cm == nil {
		t.Fatal("the Response carries no signature certificate")
	}
	return string(cm[1])
}

// TestHSMKeysEndToEnd is the IdP with both its roots of trust in a
// SoftHSM token, set up through the commands an operator runs: the SAML
// signing key pair made inside the token by `keys generate
// --pkcs11-label`, and the data key wrapped by an AES key of the token
// (`keys wrap-data-key`). The server signs a Response the demo SP accepts,
// seals the transaction register with the unwrapped data key, and the
// register opens again after the data key is rewrapped under another HSM
// key. Without the token, or with the wrong wrapping key, the server and
// the commands stop with a message naming the option.
func TestHSMKeysEndToEnd(t *testing.T) {
	hc := softhsmtest.Token(t, "spid-idp", "2468")
	d := newDemoEnv(t)
	addr := freeAddr(t)
	base := "http://" + addr
	d.environ = append(d.environ, "SPID_IDP_SERVER_LISTEN="+addr, "SPID_IDP_SERVER_BASE_URL="+base, "SPID_IDP_LOG_LEVEL=error",
		"SPID_IDP_SECURITY_PKCS11_MODULE="+hc.Module, "SPID_IDP_SECURITY_PKCS11_TOKEN_LABEL="+hc.TokenLabel,
		"SPID_IDP_SECURITY_PKCS11_PIN="+hc.PIN)
	dir := t.TempDir()
	certFile := filepath.Join(dir, "signing.crt")
	gen := func(label, cert string) result {
		return d.run("keys", "generate", "--pkcs11-label", label, "--cert", cert, "--bits", "2048",
			"--cn", "IdP di prova", "--org", "Prova S.p.A.", "--org-id", "VATIT-12345678901", "--entity-id", base, "--days", "365")
	}

	// The signing key pair, made inside the token.
	r := gen("idp-signing", certFile)
	if r.code != exitOK || !strings.Contains(r.stdout, `in the HSM: token "spid-idp", label "idp-signing"`) ||
		!strings.Contains(r.stdout, "profile      OK") {
		t.Fatalf("keys generate --pkcs11-label: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "signing.key")); err == nil {
		t.Error("a private key file was written for a key in the HSM")
	}
	cert, err := readCertificate(certFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.CheckIdPProfile(cert, base, time.Now()); err != nil {
		t.Errorf("the certificate of the HSM key: %v", err)
	}
	d.wantAudit("keys.generate", "idp-signing", "success")
	if r := gen("idp-signing", filepath.Join(dir, "other.crt")); r.code != exitFailure || !strings.Contains(r.stderr, "exists already") {
		t.Errorf("a second key pair with the same label: exit %d %s", r.code, r.stderr)
	}
	if r := d.run("keys", "generate", "--pkcs11-label", "x", "--key", "k.pem", "--cert", "c.pem", "--cn", "a", "--org", "b",
		"--org-id", "VATIT-12345678901", "--entity-id", base); r.code != exitUsage || !strings.Contains(r.stderr, "not both") {
		t.Errorf("--key with --pkcs11-label: exit %d %s", r.code, r.stderr)
	}

	// A new data key, wrapped by an AES key made in the token.
	r = d.run("keys", "wrap-data-key", "--label", "data-wrap", "--new")
	if r.code != exitFailure || !strings.Contains(r.stderr, `no AES key labelled "data-wrap"`) {
		t.Errorf("wrap-data-key without the wrapping key: exit %d %s", r.code, r.stderr)
	}
	r = d.mustRun("keys", "wrap-data-key", "--label", "data-wrap", "--new", "--create")
	m := wrappedLineRE.FindStringSubmatch(r.stdout)
	idm := keyIDRE.FindStringSubmatch(r.stdout)
	if m == nil || idm == nil || !strings.Contains(r.stdout, `created      AES-256 wrapping key "data-wrap"`) {
		t.Fatalf("keys wrap-data-key output:\n%s", r.stdout)
	}
	wrapped, keyID := m[1], idm[1]
	if ev := d.wantAudit("keys.wrap_data_key", "data-wrap", "success"); ev.Details["data_id"] != keyID {
		t.Errorf("audit details %v", ev.Details)
	}
	os.Remove(filepath.Join(d.dir, "keys", "data.key"))
	d.environ = append(d.environ, "SPID_IDP_IDP_SIGNING_PKCS11_LABEL=idp-signing", "SPID_IDP_IDP_SIGNING_CERT_FILE="+certFile,
		"SPID_IDP_SECURITY_PKCS11_DATA_KEY_LABEL=data-wrap", "SPID_IDP_SECURITY_DATA_KEY_WRAPPED="+wrapped)

	stop := d.serveUntilReady(base)
	if got, want := demoSPLogin(t, base), base64.StdEncoding.EncodeToString(cert.Raw); got != want {
		t.Errorf("the Response is signed by another certificate than the HSM key's")
	}
	if code := stop(); code != exitOK {
		t.Fatalf("serve exited %d", code)
	}
	if _, err := os.Stat(filepath.Join(d.dir, "keys", "data.key")); err == nil {
		t.Error("demo mode generated a clear data key although security.data_key_wrapped is set")
	}
	search := []string{"register", "search", "--spid-code", "DEMO0000000001", "--reason", "HSM test"}
	if r := d.mustRun(search...); !strings.Contains(r.stdout, "2 message(s)") || !strings.Contains(r.stdout, "<samlp:Response") {
		t.Fatalf("the register sealed under the HSM-wrapped data key does not open:\n%s", r.stdout)
	}

	// Rewrapped under a second HSM key: the same data key (same ID), so
	// nothing is re-sealed and the register still opens.
	r = d.mustRun("keys", "wrap-data-key", "--label", "data-wrap-2", "--create")
	m, idm = wrappedLineRE.FindStringSubmatch(r.stdout), keyIDRE.FindStringSubmatch(r.stdout)
	if m == nil || idm == nil || idm[1] != keyID || m[1] == wrapped {
		t.Fatalf("rewrap output (want key ID %s, a new wrapped value):\n%s", keyID, r.stdout)
	}
	d.environ = append(d.environ, "SPID_IDP_SECURITY_PKCS11_DATA_KEY_LABEL=data-wrap-2", "SPID_IDP_SECURITY_DATA_KEY_WRAPPED="+m[1])
	if r := d.mustRun(search...); !strings.Contains(r.stdout, "2 message(s)") {
		t.Errorf("after the rewrap the register does not open:\n%s", r.stdout)
	}

	// The next signing key, made in the token, planned as a rollover.
	next := filepath.Join(dir, "next.crt")
	if r := gen("idp-signing-2", next); r.code != exitOK {
		t.Fatalf("second HSM key: %s", r.stderr)
	}
	d.mustRun("keys", "rollover", "--pkcs11-label", "idp-signing-2", "--cert", next,
		"--switch-at", time.Now().Add(48*time.Hour).UTC().Format(time.RFC3339), "--overlap", "1h")
	if r := d.mustRun("keys", "show"); !strings.Contains(r.stdout, "state        next") || !strings.Contains(r.stdout, "HSM") {
		t.Errorf("keys show after planning the HSM key:\n%s", r.stdout)
	}

	// The wrapped value under the wrong HSM key, then no token at all.
	wrong := append(append([]string(nil), d.environ...), "SPID_IDP_SECURITY_PKCS11_DATA_KEY_LABEL=data-wrap")
	noToken := append(append([]string(nil), d.environ...), "SPID_IDP_SECURITY_PKCS11_TOKEN_LABEL=unplugged")
	for _, c := range []struct {
		name    string
		environ []string
		want    string
	}{
		{"wrong wrapping key", wrong, `security.data_key_wrapped: the HSM cannot unwrap it with security.pkcs11.data_key_label "data-wrap"`},
		{"no token", noToken, "security.data_key_wrapped: the HSM that wraps it cannot be opened, so the data key is unavailable"},
	} {
		e := &demoEnv{t: t, dir: d.dir, environ: c.environ}
		if r := e.run("serve"); r.code != exitFailure || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%s: serve exit %d, stderr %q; want a start-up error with %q", c.name, r.code, r.stderr, c.want)
		}
		if r := e.run(search...); r.code != exitFailure || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%s: register search exit %d, stderr %q", c.name, r.code, r.stderr)
		}
	}
}
