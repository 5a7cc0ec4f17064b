package app

import (
	"net/url"
	"strings"
	"testing"

	"github.com/spid-idp/spid-idp/config"
	"github.com/spid-idp/spid-idp/internal/redisserver"
)

// TestNoSecondResponseAfterRedisLoss: a private Redis without persistence
// restarts (empty) between a flow's Response and the replays of its
// AuthnRequest and consent form. Neither may produce a second Response:
// the single-use marks are kept in the database, not in Redis. Before,
// the restart forgot both marks and the IdP signed a second Response with
// the same InResponseTo.
func TestNoSecondResponseAfterRedisLoss(t *testing.T) {
	rs := redisserver.Start(t)
	_, ts, info := startApp(t, appOpts{Configure: func(cfg *config.Config) {
		cfg.Cache.Driver = "redis"
		cfg.Cache.Redis.Addr = rs.Addr()
	}})
	br := newBrowser(t)
	good := url.Values{"username": {info.Username}, "password": {info.Password}, "op": {"submit"}}

	login := br.submit(br.get(ts.URL+"/demo-sp/"), "/demo-sp/login", url.Values{"level": {"1"}})
	authnRequest := login.url.String() // the HTTP-Redirect AuthnRequest
	consent := br.submit(login, "/login", good)
	first := br.submit(consent, "/consent", url.Values{"op": {"accept"}})
	if !strings.Contains(first.body, "SAMLResponse") {
		t.Fatalf("first consent: %d\n%s", first.status, first.body)
	}

	rs.Restart() // no RDB, no AOF: every key is gone

	// The consent form again, same browser.
	if again := br.submit(consent, "/consent", url.Values{"op": {"accept"}}); strings.Contains(again.body, "SAMLResponse") {
		t.Fatal("after the Redis restart the consent form, posted again, produced a second Response")
	}
	// The AuthnRequest again: refused, or at least no Response at its end.
	replay := br.get(authnRequest)
	if strings.Contains(replay.body, `name="password"`) {
		c2 := br.submit(replay, "/login", good)
		if r2 := br.submit(c2, "/consent", url.Values{"op": {"accept"}}); strings.Contains(r2.body, "SAMLResponse") {
			t.Fatal("after the Redis restart the answered AuthnRequest was accepted again and answered with a second Response")
		}
		t.Fatal("after the Redis restart the answered AuthnRequest was accepted again (login page shown)")
	}
	// A replayed ID is answered with an error Response (nr…); the SP must
	// not read an identity in it.
	if strings.Contains(replay.body, "SAMLResponse") {
		if res := br.submit(replay, "/demo-sp/acs", nil); strings.Contains(res.body, "TINIT-RSSMRA80A01H501U") {
			t.Fatal("the replayed AuthnRequest was answered with a second valid Response")
		} else if !strings.Contains(res.body, "ErrorCode") {
			t.Errorf("the replayed AuthnRequest: the SP read neither an identity nor an error code:\n%s", res.body)
		}
	}

	// The IdP still works after the restart: a new flow completes.
	login = br.submit(br.get(ts.URL+"/demo-sp/"), "/demo-sp/login", url.Values{"level": {"1"}})
	if done := br.submit(br.submit(login, "/login", good), "/consent", url.Values{"op": {"accept"}}); !strings.Contains(done.body, "SAMLResponse") {
		t.Fatalf("a new flow after the restart: %d\n%s", done.status, done.body)
	}
}
