package conformance

import (
	"net/url"
	"testing"
)

func TestParseHTML(t *testing.T) {
	base, _ := url.Parse("https://idp.example/login/step?x=1")
	body := `<!DOCTYPE html><html><head><script>if (a < b && c) { document.forms[0].submit() }</script>
<style>p > a { color: red }</style></head><body>
<!-- <form action="/ghost"><input name=ghost></form> -->
<form method=post action="../consent"><input type=hidden name=csrf value="a&amp;b">
<input name=username autocomplete=username><input type="password" name="password">
<input type=checkbox name=remember value=1>
<button name=action value=ok>Entra <b>con</b> SPID</button>
<button type=button>Mostra password</button>
<input type=submit name=action value=cancel></form>
<a href="/cancel?tx=1">Annulla</a><a href="javascript:void(0)">x</a><br><img src=x>
<form action=""><input type=hidden name=SAMLResponse value="PHg+"></form>
</body></html>`
	p := parseHTML([]byte(body), base)
	if len(p.forms) != 2 {
		t.Fatalf("%d forms: %s", len(p.forms), p.describe())
	}
	f := p.forms[0]
	if f.Action != "https://idp.example/consent" || f.Method != "POST" {
		t.Errorf("action/method %q %q", f.Action, f.Method)
	}
	if f.value("csrf") != "a&b" {
		t.Errorf("csrf %q", f.value("csrf"))
	}
	v := f.values()
	if v.Has("remember") || v.Get("csrf") != "a&b" || !v.Has("username") {
		t.Errorf("values %v", v)
	}
	if len(f.Buttons) != 2 || f.Buttons[0].Text != "Entra con SPID" || f.Buttons[1].Value != "cancel" {
		t.Errorf("buttons %+v", f.Buttons)
	}
	if len(p.links) != 1 || p.links[0].Href != "https://idp.example/cancel?tx=1" {
		t.Errorf("links %+v", p.links)
	}
	if p.formWith("SAMLResponse") == nil || p.forms[1].Action != base.String() {
		t.Error("SAML form not found or action not resolved to the page URL")
	}
	req, err := p.press("", reCancel, nil, "cancel")
	if err != nil || req.form.Get("action") != "cancel" {
		t.Errorf("cancel press: %+v %v", req, err)
	}
}

func TestButtonMatching(t *testing.T) {
	accept := htmlInput{Name: "decision", Value: "yes", Text: "Acconsento"}
	refuse := htmlInput{Name: "decision", Value: "no", Text: "Non acconsento"}
	if !matches(refuse, "", reRefuse) || matches(accept, "", reRefuse) {
		t.Error("refuse pattern")
	}
	if !matches(accept, "", reAccept) {
		t.Error("accept pattern")
	}
	if !matches(accept, "decision=yes", nil) || matches(refuse, "decision=yes", nil) {
		t.Error("name=value selector")
	}
	p := &htmlPage{forms: []*htmlForm{{Action: "/c", Method: "POST", Buttons: []htmlInput{refuse, accept}}}}
	req, err := p.press("", reAccept, reRefuse, "consent")
	if err != nil || req.form.Get("decision") != "yes" {
		t.Errorf("accept pressed the refuse button: %+v %v", req, err)
	}
}

func FuzzParseHTML(f *testing.F) {
	f.Add(`<form action=x><input name=a value=b><button>ok</button></form>`)
	f.Add(`<form><script>1<2</script><input`)
	base, _ := url.Parse("https://idp.example/")
	f.Fuzz(func(t *testing.T, s string) {
		_ = parseHTML([]byte(s), base).describe()
	})
}

// TestConsentOfflineOptIn: the driver ticks the long-session opt-in only
// when told to, and only when the page offers it in the consent form.
func TestConsentOfflineOptIn(t *testing.T) {
	base, _ := url.Parse("https://op.example/consent")
	form := func(extra string) string {
		return `<form method=post action="/consent"><input type=hidden name=csrf value=c>` + extra +
			`<button name=op value=accept>Acconsento</button><button name=op value=deny>Non acconsento</button></form>`
	}
	box := `<input type=checkbox id=o name=offline value=1>`
	for _, tc := range []struct {
		name    string
		page    string
		choice  consentChoice
		offered bool
		want    string // the offline field submitted ("" = absent)
		op      string
	}{
		{"opt-in ticked", form(box), choiceOffline, true, "1", "accept"},
		{"opt-in left alone", form(box), choiceAccept, true, "", "accept"},
		{"no opt-in offered", form(""), choiceOffline, false, "", "accept"},
		{"refusal never ticks", form(box), choiceRefuse, true, "", "deny"},
		{"checkbox outside the consent form", form("") + `<form action="/other">` + box + `</form>`, choiceOffline, true, "", "accept"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &browser{}
			b.fields.defaults()
			out := &outcome{}
			req, err := b.nextStep(t.Context(), parseHTML([]byte(tc.page), base), out, tc.choice)
			if err != nil || req == nil {
				t.Fatalf("nextStep: %+v %v", req, err)
			}
			if out.OfflineOffered != tc.offered || !out.SawConsent {
				t.Errorf("offered %v consent %v, want %v true", out.OfflineOffered, out.SawConsent, tc.offered)
			}
			if got := req.form.Get("offline"); got != tc.want || req.form.Get("op") != tc.op || req.form.Get("csrf") != "c" {
				t.Errorf("submitted %v, want offline=%q op=%s", req.form, tc.want, tc.op)
			}
		})
	}
}
