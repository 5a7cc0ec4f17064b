package app

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/config"
	"github.com/spid-idp/spid-idp/internal/redisserver"
)

// TestLoginContinuesAfterSentinelFailover: the IdP configured with Redis
// Sentinel (cache.redis.sentinel_addrs and master_name) logs a citizen in,
// the primary is killed, and logins work again once the Sentinels have
// promoted the replica, with the SSO session made before the failover
// still recognised.
func TestLoginContinuesAfterSentinelFailover(t *testing.T) {
	g := redisserver.StartGroup(t, "spid-idp-test")
	_, ts, info := startApp(t, appOpts{Configure: func(cfg *config.Config) {
		cfg.Cache.Driver = "redis"
		cfg.Cache.Redis.SentinelAddrs = g.SentinelAddrs()
		cfg.Cache.Redis.MasterName = g.MasterName
	}})
	good := url.Values{"username": {info.Username}, "password": {info.Password}, "op": {"submit"}}
	loginOnce := func(br *browser) (string, bool) {
		home := br.get(ts.URL + "/demo-sp/")
		if home.status != 200 {
			// The readiness gate is closed: every page answers 503.
			return "home: " + http0(home.status), false
		}
		login := br.submit(home, "/demo-sp/login", url.Values{"level": {"1"}})
		if !strings.Contains(login.body, `name="password"`) {
			return login.url.Path + ": " + http0(login.status), false
		}
		consent := br.submit(login, "/login", good)
		if !strings.Contains(consent.body, `value="accept"`) {
			return "login: " + http0(consent.status), false
		}
		done := br.submit(consent, "/consent", url.Values{"op": {"accept"}})
		return "consent: " + http0(done.status), strings.Contains(done.body, "SAMLResponse")
	}
	first := newBrowser(t)
	if what, ok := loginOnce(first); !ok {
		t.Fatalf("login before the failover failed at %s", what)
	}
	g.Sync(t)
	g.Primary.Kill()
	killed := time.Now()
	var answers []string
	for {
		what, ok := loginOnce(newBrowser(t))
		if ok {
			break
		}
		answers = append(answers, what)
		if time.Since(killed) > 45*time.Second {
			t.Fatalf("no login succeeded within 45 s of the primary's death; answers: %v", answers)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("login succeeded %s after the primary was killed; answers meanwhile: %v", time.Since(killed).Round(100*time.Millisecond), answers)
	// The session made before the failover is still there (SSO: straight
	// to consent, no password asked).
	sso := first.submit(first.get(ts.URL+"/demo-sp/"), "/demo-sp/login", url.Values{"level": {"1"}})
	if strings.Contains(sso.body, `name="password"`) || !strings.Contains(sso.body, `value="accept"`) {
		t.Errorf("the SSO session made before the failover was lost: %d", sso.status)
	}
}

func http0(code int) string { return "HTTP " + strconv.Itoa(code) }
