package app

import (
	"context"
	"crypto/rsa"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/conformance"
	"github.com/spid-idp/spid-idp/idp"
)

// tlsApp starts a demo-mode IdP on https://127.0.0.1:port, as the
// conformance suite wants it; wrap lets the defect tests corrupt what the
// IdP sends.
func tlsApp(t *testing.T, wrap func(a *App, next http.Handler) http.Handler) (*App, *httptest.Server, DemoInfo) {
	return startApp(t, appOpts{TLS: true, Wrap: wrap})
}

// demoTOTPSecret is the base32 TOTP seed of the demo citizen's device, so
// the suite's SpidL2 cases run like the others.
func demoTOTPSecret(a *App, info DemoInfo) string {
	_ = a
	return info.TOTPSecret
}

// suiteOptions is how the tests point the conformance suite at our IdP:
// the simulated SPs are registered straight into the SP registry, the
// test server's client trusts its certificate, and team decisions fail.
func suiteOptions(t *testing.T, a *App, ts *httptest.Server, info DemoInfo, only ...string) conformance.Options {
	t.Helper()
	// The demo federation's Attribute Authority, with its decryption key,
	// so the AA cases open the grant tokens (A023–A033).
	aaID, aaKey := "", (*rsa.PrivateKey)(nil)
	if a.demoFed != nil {
		aaID, aaKey = a.demoFed.AA.ID, a.demoFed.AA.Enc
	}
	return conformance.Options{
		AAEntityID:  aaID,
		AAKey:       aaKey,
		IdPMetadata: ts.URL + idp.PathMetadata,
		HTTPClient:  ts.Client(),
		Credentials: conformance.Credentials{User: info.Username, Password: info.Password, TOTPSecret: demoTOTPSecret(a, info)},
		Only:        only,
		OnSPMetadata: func(xml []byte) error {
			_, err := a.SPs.Add(context.Background(), xml, "conformance")
			return err
		},
		Strict:      true,
		StepTimeout: 20 * time.Second,
	}
}

// reportTable renders the checklist table plus every non-passing row with
// its reason, for t.Log when something is off.
func reportTable(rep *conformance.Report) string {
	var sb strings.Builder
	_ = rep.WriteTable(&sb)
	sb.WriteString("\nrows not passing:\n")
	for _, r := range rep.Rows {
		if r.Status == conformance.Pass {
			continue
		}
		sb.WriteString("  " + r.ID + " " + r.Case + " [" + string(r.Status) + "] " + r.Reason + "\n")
	}
	return sb.String()
}
