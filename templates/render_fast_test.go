package templates

import (
	"crypto/rand"
	"encoding/base64"
	"net/http/httptest"
	"testing"

	"github.com/spid-idp/spid-idp/idp/spid"
)

// BenchmarkRenderSSO renders the two pages of an SSO Response: the consent
// page and the page that posts the signed Response (about 12 KiB of
// base64, as a Response with its two signatures and a few attributes is)
// to the SP.
func BenchmarkRenderSSO(b *testing.B) {
	r := newRenderer(b)
	raw := make([]byte, 9000)
	_, _ = rand.Read(raw)
	resp := base64.StdEncoding.EncodeToString(raw)
	consent := ConsentPage{Service: Service{SPName: "Comune di Esempio", Level: spid.L1}, CSRF: "tok", Action: "/login/f1/consent",
		Performed: spid.L1, Attributes: []Attribute{{"spidCode", "EXID0A1B2C3D4E"}, {"name", "Maria Luisa"}, {"familyName", "De Santis"}}}
	transfer := TransferPage{SPName: "Comune di Esempio", Action: "https://sp.example.it/acs",
		Fields: []Field{{"SAMLResponse", resp}, {"RelayState", "abc123"}}}
	for _, p := range []struct {
		name, page string
		data       any
	}{{"consent", PageConsent, consent}, {"transfer", PageTransfer, transfer}} {
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := r.Render(httptest.NewRecorder(), 200, p.page, "it", p.data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestFoldedMessages: every sample page, in every language, is the same
// byte for byte whether its {{t "key"}} calls run at each render or were
// folded into constants at start-up.
func TestFoldedMessages(t *testing.T) {
	folded := newRenderer(t)
	calls, err := New(WithBrand("Esempio ID"), WithLinks(Links{Portal: "https://account.esempio.it"}), func(o *Options) { o.noFold = true })
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range samples() {
		for _, lang := range Languages {
			_, want := render(t, calls, s.page, lang, s.status, s.data)
			_, got := render(t, folded, s.page, lang, s.status, s.data)
			if got != want {
				t.Errorf("%s (%s): folded page differs from the one rendered with calls", s.name, lang)
			}
		}
	}
}
