package main

import (
	"bytes"
	"compress/flate"
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
	"github.com/spid-idp/spid-idp/internal/webform"
)

type webPage struct {
	url  *url.URL
	body string
}

// submitForm posts the page's form whose action contains action, with its
// hidden fields and extra.
func submitForm(t *testing.T, c *http.Client, p webPage, action string, extra url.Values) webPage {
	t.Helper()
	f, err := webform.Find(p.url, p.body, action, extra)
	if err != nil {
		t.Fatalf("%v:\n%s", err, p.body)
	}
	res, err := c.PostForm(f.Action.String(), f.Values)
	if err != nil {
		t.Fatal(err)
	}
	return readPage(t, res)
}

func readPage(t *testing.T, res *http.Response) webPage {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return webPage{url: res.Request.URL, body: string(b)}
}

// TestRegisterSearchFindsLogin is the register end to end through the
// binary's commands: `serve` (demo mode) answers a login of the demo
// citizen at the demo SP; after it stops, `register search --spid-code`
// prints the AuthnRequest as the SP sent it and the Response as the IdP
// sent it, byte for byte; the search is audited with its reason, refused
// without one, and `register verify` finds the chain intact.
func TestRegisterSearchFindsLogin(t *testing.T) {
	d := newDemoEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	base := "http://" + addr
	d.environ = append(d.environ, "SPID_IDP_SERVER_LISTEN="+addr, "SPID_IDP_SERVER_BASE_URL="+base, "SPID_IDP_LOG_LEVEL=error")
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan int, 1)
	go func() {
		served <- dispatch(ctx, env{stdout: io.Discard, stderr: io.Discard, stdin: strings.NewReader(""), environ: d.environ}, []string{"serve"})
	}()
	defer func() {
		cancel()
		<-served
	}()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := c.Get(base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not become ready: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	res, err := c.Get(base + "/demo-sp/")
	if err != nil {
		t.Fatal(err)
	}
	home := readPage(t, res)
	login := submitForm(t, c, home, "/demo-sp/login", url.Values{"level": {"1"}})
	sentRequest := inflate(t, login.url.Query().Get("SAMLRequest"))
	consent := submitForm(t, c, login, "/login", url.Values{"username": {demo.CitizenUsername}, "password": {demo.CitizenPassword}, "op": {"submit"}})
	transfer := submitForm(t, c, consent, "/consent", url.Values{"op": {"accept"}})
	m := regexp.MustCompile(`name="SAMLResponse" value="([^"]*)"`).FindStringSubmatch(transfer.body)
	if m == nil {
		t.Fatalf("no SAMLResponse:\n%s", transfer.body)
	}
	sentResponse, err := base64.StdEncoding.DecodeString(html.UnescapeString(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if code := <-served; code != exitOK {
		t.Fatalf("serve exited %d", code)
	}
	served <- exitOK // for the deferred receive

	if r := d.run("register", "search", "--spid-code", "DEMO0000000001"); r.code != exitUsage || !strings.Contains(r.stderr, "--reason is required") {
		t.Errorf("search without a reason: exit %d %s", r.code, r.stderr)
	}
	r := d.mustRun("register", "search", "--spid-code", "DEMO0000000001", "--reason", "judicial authority request 42/2026")
	if !strings.Contains(r.stdout, "2 message(s)") || !strings.Contains(r.stdout, "kind=AuthnRequest direction=received") ||
		!strings.Contains(r.stdout, "kind=Response direction=sent") || !strings.Contains(r.stdout, "client_ip=127.0.0.1") {
		t.Errorf("search output:\n%s", r.stdout)
	}
	if !bytes.Contains([]byte(r.stdout), sentRequest) {
		t.Errorf("the AuthnRequest as sent is not printed byte for byte:\n%s\nwant inside:\n%s", r.stdout, sentRequest)
	}
	if !bytes.Contains([]byte(r.stdout), sentResponse) {
		t.Errorf("the Response as sent is not printed byte for byte")
	}
	ev := d.wantAudit("register.search", "", "success")
	if ev.Details["reason"] != "judicial authority request 42/2026" || ev.Details["spid_code"] != "DEMO0000000001" || ev.Details["records"] != "2" {
		t.Errorf("audit details %v", ev.Details)
	}

	// By fiscal code, exported to files.
	dir := filepath.Join(t.TempDir(), "export")
	d.mustRun("register", "search", "--fiscal-code", "RSSMRA80A01H501U", "--reason", "holder's request", "--export", dir)
	files, _ := filepath.Glob(filepath.Join(dir, "*-Response.xml"))
	if len(files) != 1 {
		t.Fatalf("exported %v", files)
	}
	if got, _ := os.ReadFile(files[0]); !bytes.Equal(got, sentResponse) {
		t.Errorf("exported Response differs from what was sent")
	}
	if r := d.mustRun("register", "verify"); !strings.Contains(r.stdout, "intact") {
		t.Errorf("verify: %s", r.stdout)
	}
}

func inflate(t *testing.T, b64 string) []byte {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatalf("SAMLRequest: %v", err)
	}
	out, err := io.ReadAll(flate.NewReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatalf("SAMLRequest: %v", err)
	}
	if len(out) == 0 {
		t.Fatal("empty SAMLRequest")
	}
	return out
}
