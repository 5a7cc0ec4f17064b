package conformance

import (
	"bytes"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMainBadInput(t *testing.T) {
	notSAML := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("<html><body>hello</body></html>"))
	}))
	defer notSAML.Close()
	dir := t.TempDir()
	garbage := filepath.Join(dir, "md.xml")
	if err := os.WriteFile(garbage, []byte("<md:EntityDescriptor"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no metadata flag", nil, "--idp-metadata is required"},
		{"unreachable", []string{"--idp-metadata", "http://127.0.0.1:1/metadata", "--timeout", "2s"}, "fetching IdP metadata"},
		{"not SAML", []string{"--idp-metadata", notSAML.URL}, "parsing IdP metadata"},
		{"unparsable file", []string{"--idp-metadata", garbage}, "parsing IdP metadata"},
		{"missing file", []string{"--idp-metadata", filepath.Join(dir, "nope.xml")}, "fetching IdP metadata"},
		{"bad report extension", []string{"--idp-metadata", garbage, "--report", "r.txt"}, "--report must end"},
		{"unknown flag", []string{"--bogus"}, "flag provided but not defined"},
		{"bad CA file", []string{"--idp-metadata", garbage, "--ca-file", garbage}, "holds no PEM certificate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := Main(t.Context(), c.args, &out, &errb); code != 2 {
				t.Errorf("exit %d, want 2 (stderr %q)", code, errb.String())
			}
			if !strings.Contains(errb.String(), c.want) {
				t.Errorf("stderr %q lacks %q", errb.String(), c.want)
			}
		})
	}
}

func TestMainAgainstFake(t *testing.T) {
	for _, c := range []struct {
		defect string
		exit   int
	}{{"", 0}, {"metadata-no-slo-post", 1}} {
		f := newFakeIdP(t, c.defect)
		// Main cannot register SPs by itself; point it at a copy of the
		// metadata saved to disk and use only cases that need no SP trust.
		path := filepath.Join(t.TempDir(), "idp.xml")
		resp, err := f.srv.Client().Get(f.srv.URL + "/metadata")
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		resp.Body.Close()
		if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		report := filepath.Join(t.TempDir(), "r.html")
		var out, errb bytes.Buffer
		code := Main(t.Context(), []string{"--idp-metadata", path, "--only", "metadata", "--report", report, "--print-sp-metadata", "--register-wait", "1ms"}, &out, &errb)
		if code != c.exit {
			t.Errorf("defect %q: exit %d, want %d; %s %s", c.defect, code, c.exit, out.String(), errb.String())
		}
		if !strings.Contains(out.String(), "ID  ") || !strings.Contains(out.String(), "EntityDescriptor") {
			t.Errorf("stdout lacks the table or the SP metadata: %s", out.String())
		}
		if !strings.Contains(errb.String(), "register the two simulated SPs") {
			t.Errorf("no registration prompt: %s", errb.String())
		}
		if b, err := os.ReadFile(report); err != nil || !bytes.Contains(b, []byte("<table>")) {
			t.Errorf("report not written: %v", err)
		}
	}
}

// TestDriverUnknownPage: a login page with unexpected field names stops the
// run with a StepError naming the page.
func TestDriverUnknownPage(t *testing.T) {
	f := newFakeIdP(t, "")
	rep, err := Run(t.Context(), Options{
		IdPMetadata: f.srv.URL + "/metadata", HTTPClient: f.srv.Client(),
		Credentials:  Credentials{User: "maria", Password: "secret"},
		Fields:       Fields{User: "login", Password: "pin"},
		OnSPMetadata: f.register, Only: []string{"login-l1-redirect", "login-l1-post"},
	})
	if err == nil || rep == nil {
		t.Fatalf("want a StepError and a partial report, got %v", err)
	}
	if !strings.Contains(err.Error(), "/sso/redirect") || !strings.Contains(err.Error(), "cannot recognise") {
		t.Errorf("error does not name the page: %v", err)
	}
	if len(rep.Rows) == 0 || !rep.Failed() {
		t.Error("partial report should hold the failed login")
	}
}

// TestSPServer: with SPListen the simulators' metadata is served while the
// run lasts, at entityID + "/metadata", so an operator can register it.
func TestSPServer(t *testing.T) {
	f := newFakeIdP(t, "")
	var served [][]byte
	_, err := Run(t.Context(), Options{
		IdPMetadata: f.srv.URL + "/metadata", HTTPClient: f.srv.Client(), SPListen: "127.0.0.1:0",
		Only: []string{"metadata"},
		OnSPMetadata: func(x []byte) error {
			doc, err := parseXML(x)
			if err != nil {
				return err
			}
			id, _ := attr(doc.Root(), "entityID")
			resp, err := http.Get(id + "/metadata")
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			var b bytes.Buffer
			_, _ = b.ReadFrom(resp.Body)
			served = append(served, b.Bytes())
			if !bytes.Equal(b.Bytes(), x) {
				t.Errorf("served metadata of %s differs", id)
			}
			// The ACS endpoint records what a browser posts to it.
			r2, err := http.PostForm(id+"/acs/0", map[string][]string{"SAMLResponse": {"eA=="}})
			if err != nil {
				return err
			}
			r2.Body.Close()
			if r2.StatusCode != http.StatusOK {
				t.Errorf("ACS answered %d", r2.StatusCode)
			}
			return f.register(x)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(served) != 2 {
		t.Fatalf("%d SPs served, want 2", len(served))
	}
}

// TestSPKeyDir: with SPKeyDir the simulators keep their certificates
// between runs, so an operator registers them once.
func TestSPKeyDir(t *testing.T) {
	dir := t.TempDir()
	certOf := func() []string {
		f := newFakeIdP(t, "")
		rep, err := Run(t.Context(), Options{IdPMetadata: f.srv.URL + "/metadata", HTTPClient: f.srv.Client(),
			SPKeyDir: dir, Only: []string{"metadata"}, OnSPMetadata: f.register})
		if err != nil {
			t.Fatal(err)
		}
		var certs []string
		for _, sp := range rep.SPs {
			doc, err := parseXML([]byte(sp.Metadata))
			if err != nil {
				t.Fatal(err)
			}
			certs = append(certs, doc.Root().FindElement(".//X509Certificate").Text())
		}
		return certs
	}
	first, second := certOf(), certOf()
	if len(first) != 2 || first[0] != second[0] || first[1] != second[1] || first[0] == first[1] {
		t.Fatal("SP certificates not kept between runs (or A and B share one)")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "sp-*.pem"))
	if len(files) != 2 {
		t.Fatalf("%d key files, want 2", len(files))
	}
	if err := os.WriteFile(files[0], []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := newFakeIdP(t, "")
	_, err := Run(t.Context(), Options{IdPMetadata: f.srv.URL + "/metadata", HTTPClient: f.srv.Client(), SPKeyDir: dir, OnSPMetadata: f.register})
	if err == nil || !strings.Contains(err.Error(), "PRIVATE KEY") {
		t.Errorf("corrupt key file not reported clearly: %v", err)
	}
}

// TestMainTLSOptions: --ca-file makes the fake IdP's test certificate
// trusted; without it the fetch fails with exit 2.
func TestMainTLSOptions(t *testing.T) {
	f := newFakeIdP(t, "")
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pemCert(f.srv.Certificate().Raw), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := Main(t.Context(), []string{"--idp-metadata", f.srv.URL + "/metadata", "--only", "metadata"}, &out, &errb); code != 2 {
		t.Errorf("untrusted certificate: exit %d, want 2", code)
	}
	errb.Reset()
	if code := Main(t.Context(), []string{"--idp-metadata", f.srv.URL + "/metadata", "--only", "metadata", "--ca-file", ca}, &out, &errb); code != 0 {
		t.Errorf("--ca-file: exit %d: %s", code, errb.String())
	}
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
