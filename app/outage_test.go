package app

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/config"
	"github.com/spid-idp/spid-idp/internal/redisserver"
	"github.com/spid-idp/spid-idp/internal/tcpproxy"
	"github.com/spid-idp/spid-idp/internal/testenv"
	"github.com/spid-idp/spid-idp/storage"
)

// maxWait is the longest a request may wait on a dependency that is out:
// the timeouts (cache 1 s, database 2 s by default) plus the work itself.
const maxWait = 3 * time.Second

// outageAnswer is what one request got while a dependency was out.
type outageAnswer struct {
	status     int
	retryAfter string
	body       string
	took       time.Duration
}

// timed runs do and measures it.
func timed(do func() (*http.Response, error)) (outageAnswer, error) {
	start := time.Now()
	res, err := do()
	if err != nil {
		return outageAnswer{}, err
	}
	defer res.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := res.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return outageAnswer{status: res.StatusCode, retryAfter: res.Header.Get("Retry-After"), body: b.String(), took: time.Since(start)}, nil
}

// want503 checks an answer to a request made during an outage: 503 with
// Retry-After and the page in words, within maxWait.
func want503(t *testing.T, what string, a outageAnswer) {
	t.Helper()
	if a.status != http.StatusServiceUnavailable {
		t.Errorf("%s: status %d, want 503 (body %.300q)", what, a.status, a.body)
	}
	if a.retryAfter == "" {
		t.Errorf("%s: no Retry-After", what)
	}
	if !strings.Contains(a.body, "Servizio non disponibile") && !strings.Contains(a.body, "Service unavailable") {
		t.Errorf("%s: the page does not say the service is unavailable: %.300q", what, a.body)
	}
	if a.took > maxWait {
		t.Errorf("%s: answered after %s, more than %s", what, a.took.Round(10*time.Millisecond), maxWait)
	}
}

// postLogin submits the login form of p with the right password, timed.
func postLogin(t *testing.T, br *browser, p page, username, pw string) outageAnswer {
	t.Helper()
	m := formRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no form on the login page:\n%s", p.body)
	}
	v := url.Values{}
	for _, in := range inputRE.FindAllStringSubmatch(m[2], -1) {
		v.Set(in[1], in[2])
	}
	v.Set("username", username)
	v.Set("password", pw)
	v.Set("op", "submit")
	target, _ := p.url.Parse(strings.ReplaceAll(m[1], "&amp;", "&"))
	a, err := timed(func() (*http.Response, error) {
		return br.c.PostForm(target.String(), v)
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// readyz asks /readyz, timed.
func readyz(t *testing.T, base string) outageAnswer {
	t.Helper()
	a, err := timed(func() (*http.Response, error) { return http.Get(base + "/readyz") })
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// loginPages opens n login pages (n citizens about to log in) before a
// dependency goes out.
func loginPages(t *testing.T, base string, n int) ([]*browser, []page) {
	var brs []*browser
	var pages []page
	for range n {
		br := newBrowser(t)
		p := br.submit(br.get(base+"/demo-sp/"), "/demo-sp/login", url.Values{"level": {"1"}})
		if !strings.Contains(p.body, `name="password"`) {
			t.Fatalf("login page: %d\n%s", p.status, p.body)
		}
		brs, pages = append(brs, br), append(pages, p)
	}
	return brs, pages
}

// waitReady polls /readyz until it answers 200.
func waitReady(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for readyz(t, base).status != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("/readyz did not come back within 20 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRedisOutageAnswers503: with a private Redis stopped, then frozen
// (SIGSTOP), citizens who post their right password get 503 with
// Retry-After and the page in words, within 3 s — never 500, 429 or
// "wrong credentials" — and /readyz says so within 1 s. Before, the first
// ones got 500 and 429, and a frozen Redis held requests and /readyz 5 s.
func TestRedisOutageAnswers503(t *testing.T) {
	rs := redisserver.Start(t)
	_, ts, info := startApp(t, appOpts{Configure: func(cfg *config.Config) {
		cfg.Cache.Driver = "redis"
		cfg.Cache.Redis.Addr = rs.Addr()
	}})

	for _, fault := range []struct {
		name       string
		start, end func()
	}{
		{"stopped", rs.Kill, rs.Restart},
		{"frozen", rs.Freeze, rs.Thaw},
	} {
		t.Run(fault.name, func(t *testing.T) {
			brs, pages := loginPages(t, ts.URL, 3)
			fault.start()
			for i := range brs {
				want503(t, "login "+fault.name, postLogin(t, brs[i], pages[i], info.Username, info.Password))
			}
			r := readyz(t, ts.URL)
			if r.status != http.StatusServiceUnavailable || r.took > time.Second {
				t.Errorf("/readyz during the outage: %d after %s, want 503 within 1 s", r.status, r.took)
			}
			fault.end()
			waitReady(t, ts.URL)
			br := newBrowser(t)
			p := br.submit(br.get(ts.URL+"/demo-sp/"), "/demo-sp/login", url.Values{"level": {"1"}})
			if a := postLogin(t, br, p, info.Username, info.Password); a.status != http.StatusOK || !strings.Contains(a.body, `value="accept"`) {
				t.Errorf("login after Redis came back: %d %.300q", a.status, a.body)
			}
		})
	}
}

// TestPostgresFrozenAnswers503: PostgreSQL behind a TCP proxy that the
// test pauses (a frozen database). A citizen posting the right password
// gets 503 within 3 s, not "wrong credentials"; /readyz answers 503 within
// 1 s; and nothing records a failed login (no failure counted, no audit
// record). Before, requests hung up to 20 s and the right password was
// answered as wrong.
func TestPostgresFrozenAnswers503(t *testing.T) {
	dsn, _ := testenv.PostgresSchema(t, "outage_")
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := tcpproxy.Start(t, u.Host)
	u.Host = proxy.Addr()
	a, ts, info := startApp(t, appOpts{Configure: func(cfg *config.Config) {
		cfg.Storage.Driver = "postgres"
		cfg.Storage.Postgres.DSN = config.Secret(u.String())
	}})
	ctx := context.Background()
	citizen, err := a.Backends.Store.GetIdentityByUsername(ctx, info.Username)
	if err != nil {
		t.Fatal(err)
	}
	auditBefore, err := a.Backends.Store.ListAudit(ctx, 0, 100000)
	if err != nil {
		t.Fatal(err)
	}

	brs, pages := loginPages(t, ts.URL, 3)
	proxy.Pause()
	for i := range brs {
		ans := postLogin(t, brs[i], pages[i], info.Username, info.Password)
		want503(t, "login with the database frozen", ans)
		if ans.status == http.StatusUnauthorized {
			t.Errorf("the right password was answered as wrong while the database was frozen")
		}
	}
	r := readyz(t, ts.URL)
	if r.status != http.StatusServiceUnavailable || r.took > time.Second {
		t.Errorf("/readyz with the database frozen: %d after %s, want 503 within 1 s", r.status, r.took)
	}
	proxy.Resume()
	waitReady(t, ts.URL)

	cred, err := a.Backends.Store.GetCredential(ctx, citizen.ID)
	if err != nil {
		t.Fatal(err)
	}
	if cred.FailedAttempts != 0 {
		t.Errorf("the outage was counted as %d failed login(s)", cred.FailedAttempts)
	}
	auditAfter, err := a.Backends.Store.ListAudit(ctx, 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range auditAfter[len(auditBefore):] {
		if ev.Action == "login.password" && ev.Outcome != "success" {
			t.Errorf("the outage left an audit record of a failed login: %+v", ev)
		}
	}
	// And the citizen logs in once the database answers again.
	br := newBrowser(t)
	p := br.submit(br.get(ts.URL+"/demo-sp/"), "/demo-sp/login", url.Values{"level": {"1"}})
	if ans := postLogin(t, br, p, info.Username, info.Password); ans.status != http.StatusOK || !strings.Contains(ans.body, `value="accept"`) {
		t.Errorf("login after the database came back: %d %.300q", ans.status, ans.body)
	}
	_ = storage.ErrNotFound
}
