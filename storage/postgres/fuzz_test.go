package postgres_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/spid-idp/spid-idp/storage/postgres"
)

// openErr returns the error Open gives for an unreachable server (port 1 on
// loopback refuses at once) with password pw, in URL or key=value form.
func openErr(t *testing.T, pw string, kv bool) string {
	dsn := (&url.URL{Scheme: "postgres", User: url.UserPassword("spid", pw), Host: "127.0.0.1:1", Path: "/idpdb",
		RawQuery: "sslmode=disable&connect_timeout=5"}).String()
	if kv {
		quoted := "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(pw) + "'"
		dsn = "host=127.0.0.1 port=1 dbname=idpdb user=spid sslmode=disable connect_timeout=5 password=" + quoted
	}
	s, err := postgres.Open(t.Context(), dsn, 1)
	if err == nil {
		s.Close()
		t.Fatalf("Open(%q) succeeded", dsn)
	}
	return err.Error()
}

// FuzzOpenErrorHidesPassword: whatever the password, the error of a failed
// Open (parse or connect) does not contain it.
func FuzzOpenErrorHidesPassword(f *testing.F) {
	for _, seed := range []string{"S3cret-Pa55w0rd", "p@ss:w/rd?x=1&y", "quote'd \\ back", "spazio e àccenti", "%41%42%43%44x", "password=inner"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, pw string) {
		if len(pw) < 8 || strings.ContainsAny(pw, "\x00") {
			t.Skip("short passwords can occur in any message by chance")
		}
		for _, kv := range []bool{false, true} {
			// A password that is a piece of the ordinary message proves nothing.
			if strings.Contains(openErr(t, "Zq9-unrelated-Zq9", kv), pw) {
				continue
			}
			if msg := openErr(t, pw, kv); strings.Contains(msg, pw) {
				t.Errorf("kv=%v: error reveals password %q: %s", kv, pw, msg)
			}
		}
	})
}
