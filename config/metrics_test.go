package config

import (
	"strings"
	"testing"
)

// Issue 11 item 6: /metrics leaves the public listener outside demo mode
// (127.0.0.1:9090 unless told otherwise) and stays where it was in demo
// mode; a production server may keep it public only behind a token, which
// is a secret.
func TestMetricsListenDefaultsAndRules(t *testing.T) {
	demo := mustLoad(t, "", nil)
	if demo.Server.MetricsListen != MetricsOnSite {
		t.Errorf("demo metrics_listen %q, want %q", demo.Server.MetricsListen, MetricsOnSite)
	}
	f := newFixture(t)
	prod := mustLoad(t, f.write(t, f.minimal()), f.env)
	if prod.Server.MetricsListen != "127.0.0.1:9090" {
		t.Errorf("production metrics_listen %q, want 127.0.0.1:9090", prod.Server.MetricsListen)
	}
	token := strings.Repeat("t", 32)
	ok := mustLoad(t, f.write(t, f.minimal()), append(f.env, "SPID_IDP_SERVER_METRICS_LISTEN=site", "SPID_IDP_SERVER_METRICS_TOKEN="+token))
	if string(ok.Server.MetricsToken) != token || strings.Contains(ok.Server.MetricsToken.String(), token) {
		t.Errorf("token %q not kept, or shown by String()", ok.Server.MetricsToken)
	}

	// Every problem at once, one line each.
	got := problems(t, f.write(t, f.minimal()), append(f.env,
		"SPID_IDP_SERVER_METRICS_LISTEN=site", "SPID_IDP_SERVER_METRICS_TOKEN=short",
		"SPID_IDP_SERVER_READ_TIMEOUT=ten"))
	want := map[string]string{
		"server.metrics_token": "must be at least 32 characters",
		"server.read_timeout":  "must be a duration",
	}
	for path, msg := range want {
		if p := find(got, path); p == nil || !strings.Contains(p.String(), msg) {
			t.Errorf("%s: want %q among\n%v", path, msg, got)
		}
	}
	for name, c := range map[string]struct {
		env  []string
		path string
		msg  string
	}{
		"site without token": {[]string{"SPID_IDP_SERVER_METRICS_LISTEN=site"}, "server.metrics_token", "is required when server.metrics_listen is site"},
		"not host:port":      {[]string{"SPID_IDP_SERVER_METRICS_LISTEN=nonsense"}, "server.metrics_listen", "must be host:port"},
		"same as the site":   {[]string{"SPID_IDP_SERVER_METRICS_LISTEN=127.0.0.1:8080"}, "server.metrics_listen", "must differ from server.listen"},
		"token with a space": {[]string{"SPID_IDP_SERVER_METRICS_TOKEN=" + token + " x"}, "server.metrics_token", "must not contain spaces"},
		"port out of range":  {[]string{"SPID_IDP_SERVER_METRICS_LISTEN=127.0.0.1:70000"}, "server.metrics_listen", "port from 1 to 65535"},
	} {
		t.Run(name, func(t *testing.T) {
			got := problems(t, f.write(t, f.minimal()), append(f.env, c.env...))
			if p := find(got, c.path); p == nil || !strings.Contains(p.String(), c.msg) {
				t.Errorf("want %s: %q among\n%v", c.path, c.msg, got)
			}
			for _, p := range got {
				if strings.Contains(p.String(), token) {
					t.Errorf("problem shows the token: %s", p)
				}
			}
		})
	}
	// Demo mode needs no token to keep /metrics on the site.
	if _, err := Load("", []string{"SPID_IDP_SERVER_METRICS_LISTEN=site"}); err != nil {
		t.Errorf("demo with metrics on the site: %v", err)
	}
}
