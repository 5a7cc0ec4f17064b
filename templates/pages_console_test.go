package templates

import (
	"strings"
	"testing"
)

// The operators' second-factor pages and the supervisor's page (security.md
// E.1) in both languages: one h1, no inline script or style, CSRF on every
// post, nothing the escaper refused, no autocomplete="off", and what each
// mode must show.
func TestConsoleFactorPages(t *testing.T) {
	r := newRenderer(t)
	frame := ConsoleFrame{Operator: "vera", CSRF: "tok", Logout: "/console/logout", Home: "/console/"}
	cases := []struct {
		name string
		page string
		data any
		want []string
		not  []string
	}{
		{"verify both", PageConsoleFactor, ConsoleFactorPage{ConsoleFrame: frame, Mode: "verify", HasTOTP: true, HasPasskey: true,
			PasskeyOptions: `{"publicKey":{"challenge":"abc"}}`, PasskeyAction: "/console/factor/passkey", TOTPAction: "/console/factor/totp"},
			[]string{`data-passkey="get"`, `data-options="{&#34;publicKey&#34;`, `autocomplete="one-time-code"`, `src="/static/console-passkey.js"`, `aria-live="polite"`}, nil},
		{"verify totp only, passkeys off", PageConsoleFactor, ConsoleFactorPage{ConsoleFrame: frame, Mode: "verify", HasTOTP: true, HasPasskey: true,
			TOTPAction: "/console/factor/totp", ErrorKey: "console.factor.err.totp"},
			[]string{`role="alert"`, `aria-invalid="true"`, "Le passkey non sono disponibili"}, []string{`data-passkey`}},
		{"code", PageConsoleFactor, ConsoleFactorPage{ConsoleFrame: frame, Mode: "code", CodeAction: "/console/factor/code"},
			[]string{`name="enrol_code"`, "72 ore", `aria-describedby="enrol_code-hint"`}, nil},
		{"enrol", PageConsoleFactor, ConsoleFactorPage{ConsoleFrame: frame, Mode: "enrol", PasskeyOptions: `{"publicKey":{}}`,
			PasskeyAction: "/console/factor/enrol-passkey", TOTPAction: "/console/factor/enrol-totp", QR: "data:image/png;base64,AAAA", Secret: "ABCDEFGH"},
			[]string{`data-passkey="create"`, `src="data:image/png;base64,AAAA"`, `alt="Codice QR`, "ABCDEFGH"}, nil},
		{"none", PageConsoleFactor, ConsoleFactorPage{ConsoleFrame: frame, Mode: "none"}, []string{"chiedi a un supervisore"}, []string{"<form class=\"form\" method=\"post\" action=\"/console/factor"}},
		{"operators", PageConsoleOperators, ConsoleOperatorsPage{ConsoleFrame: ConsoleFrame{Operator: "sara", CSRF: "tok", Logout: "/console/logout",
			Home: "/console/", OperatorsPage: "/console/operators"}, Code: "ABCD-EFGH-JKLM", CodeFor: "vera",
			Rows: []ConsoleOperatorRow{{Username: "vera", Name: "Vera <b>", Factors: "app ×1", Action: "/console/operators/op-vera/reset-factor"},
				{Username: "sara", Name: "Sara", Factors: "passkey ×1"}}},
			[]string{"ABCD-EFGH-JKLM", "Vera &lt;b&gt;", `name="reason"`, `href="/console/operators"`, `scope="col"`}, nil},
	}
	for _, c := range cases {
		for _, lang := range Languages {
			res, body := render(t, r, c.page, lang, 200, c.data)
			if res.StatusCode != 200 || res.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("%s/%s: status %d", c.name, lang, res.StatusCode)
			}
			checkCSPClean(t, c.name, body)
			if strings.Contains(body, "ZgotmplZ") || len(reH1.FindAllString(body, -1)) != 1 || strings.Contains(body, `autocomplete="off"`) {
				t.Errorf("%s/%s: escaper refusal, not one h1, or autocomplete=off", c.name, lang)
			}
			if m := reUnresolved.FindString(body); m != "" {
				t.Errorf("%s/%s: unresolved %s", c.name, lang, m)
			}
			for _, f := range reForm.FindAllStringSubmatch(body, -1) {
				if strings.Contains(f[0], `method="post"`) && !strings.Contains(f[2], `name="csrf_token" value="tok"`) {
					t.Errorf("%s: post form to %s without CSRF", c.name, f[1])
				}
			}
			if lang != "it" {
				continue
			}
			for _, w := range c.want {
				if !strings.Contains(body, w) {
					t.Errorf("%s: lacks %q", c.name, w)
				}
			}
			for _, w := range c.not {
				if strings.Contains(body, w) {
					t.Errorf("%s: has %q", c.name, w)
				}
			}
		}
	}
}
