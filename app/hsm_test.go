package app

import (
	"encoding/pem"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/config"
	"github.com/spid-idp/spid-idp/internal/softhsmtest"
	"github.com/spid-idp/spid-idp/keys"
	"github.com/spid-idp/spid-idp/keys/pkcs11"
)

// TestHSMSigningKeyEndToEnd runs the IdP with its signing key in a
// SoftHSM token (idp.signing.pkcs11_label): the metadata publishes the
// token key's certificate, and a login through the demo SP gets a Response
// signed inside the token that the SP accepts.
func TestHSMSigningKeyEndToEnd(t *testing.T) {
	hc := softhsmtest.Token(t, "spid-idp", "2468")
	tok, err := pkcs11.Open(hc)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := tok.GenerateRSA("idp-signing", 2048)
	if err != nil {
		t.Fatal(err)
	}
	certFile := filepath.Join(t.TempDir(), "signing.crt")
	var pair keys.Pair
	a, ts, info := startApp(t, appOpts{Configure: func(cfg *config.Config) {
		pair, err = keys.Generate(keys.GenerateOptions{Key: signer, CommonName: cfg.IdP.Name, Locality: "Roma",
			OrganizationIdentifier: "VATIT-" + demoVAT[2:], OrganizationName: "SPID IdP dimostrativo",
			EntityID: cfg.IdP.EntityID, ValidFor: 365 * 24 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pair.Cert.Raw}), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg.IdP.Signing.PKCS11Label = "idp-signing"
		cfg.IdP.Signing.CertFile = certFile
		cfg.Security.PKCS11 = config.PKCS11{Module: hc.Module, TokenLabel: hc.TokenLabel, PIN: config.Secret(hc.PIN)}
	}})
	if _, inMemory := a.Keys.Key.(interface{ Precompute() }); inMemory {
		t.Fatal("the IdP signs with an in-memory key, not the token's")
	}
	want := certID(pair.Cert.Raw)
	if got := metadataCerts(t, ts.URL); len(got) != 1 || got[0] != want {
		t.Errorf("metadata certificates %v, want the token key's", short(got))
	}
	if _, signer := demoLogin(t, ts.URL, info); signer != want {
		t.Errorf("Response signed by %v, want the token key's certificate", short([]string{signer}))
	}

	// A rollover to a second key made in the token: after the switch the
	// Responses are signed inside the token with it.
	signer2, err := tok.GenerateRSA("idp-signing-2", 2048)
	if err != nil {
		t.Fatal(err)
	}
	pair2, err := keys.Generate(keys.GenerateOptions{Key: signer2, CommonName: a.Config.IdP.Name, Locality: "Roma",
		OrganizationIdentifier: "VATIT-" + demoVAT[2:], OrganizationName: "SPID IdP dimostrativo",
		EntityID: a.Config.IdP.EntityID, ValidFor: 365 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	cert2 := filepath.Join(t.TempDir(), "next.crt")
	if err := os.WriteFile(cert2, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pair2.Cert.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := PlanRollover(t.Context(), a.Config, a.Backends.Store, a.Audit, RolloverRequest{PKCS11Label: "idp-signing-2",
		CertFile: cert2, SwitchAt: start.Add(time.Hour), Overlap: time.Hour, Actor: "operator:test"}, start); err != nil {
		t.Fatal(err)
	}
	var clock atomic.Int64
	clock.Store(start.Add(time.Hour + time.Minute).UnixNano())
	a.Signing.Now = func() time.Time { return time.Unix(0, clock.Load()) }
	if err := a.Signing.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	want2 := certID(pair2.Cert.Raw)
	if got := metadataCerts(t, ts.URL); len(got) != 2 || got[0] != want2 || got[1] != want {
		t.Errorf("metadata after the switch %v, want the new HSM key's then the old", short(got))
	}
	if _, signer := demoLogin(t, ts.URL, info); signer != want2 {
		t.Errorf("Response after the switch signed by %v, want the new HSM key's certificate", short([]string{signer}))
	}
}
