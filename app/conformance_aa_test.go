package app

import (
	"context"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/conformance"
)

// aaItems are the Attribute Authority checklist items the SAML part of the
// suite evidences (spec §13 A; AgID's SAML tool cases AA1–AA7).
var aaItems = []string{"A004", "A005", "A006", "A007", "A008", "A009", "A011", "A014", "A015", "A016",
	"A018", "A019", "A020", "A021", "A022", "A023", "A024", "A025", "A026", "A027", "A028", "A029", "A030", "A032", "A033"}

var aaCaseNames = []string{"aa-1-wrong-name", "aa-2-no-location", "aa-3-empty-locations", "aa-4-unlisted", "aa-5-refused", "aa-6-none-chosen", "aa-7-granted"}

// TestConformanceAAAgainstOurIdP runs the suite's AA cases against our IdP
// with the demo AA and its key: every A item must pass, none skip.
func TestConformanceAAAgainstOurIdP(t *testing.T) {
	a, ts, info := tlsApp(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := conformance.Run(ctx, suiteOptions(t, a, ts, info, aaCaseNames...))
	if err != nil {
		t.Fatalf("suite: %v", err)
	}
	requireItems(t, rep, aaItems...)
	if t.Failed() {
		return
	}
	for _, r := range rep.Rows {
		t.Logf("%s %s %s: %s", r.ID, r.Case, r.Status, r.Reason)
	}
}

// TestConformanceAAWithoutKey: with no AA key the grant's content is
// reported as not checked, never as passing.
func TestConformanceAAWithoutKey(t *testing.T) {
	a, ts, info := tlsApp(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	opt := suiteOptions(t, a, ts, info, "aa-7-granted")
	opt.AAKey = nil
	rep, err := conformance.Run(ctx, opt)
	if err != nil {
		t.Fatalf("suite: %v", err)
	}
	for _, r := range rep.Rows {
		switch r.ID {
		case "A018", "A019", "A020", "A021":
			if r.Status != conformance.Pass {
				t.Errorf("%s %s: %s", r.ID, r.Status, r.Reason)
			}
		case "A023", "A026", "A033":
			if r.Status != conformance.Skip || r.Reason != "not checked: no AA key given (--aa-key)" {
				t.Errorf("%s %s: %s, want skip for the missing key", r.ID, r.Status, r.Reason)
			}
		}
	}
}

// TestConformanceOIDCAAAgainstOurIdP runs the OIDC part's AA case against
// our OP with the demo AA: A035–A038 must pass.
func TestConformanceOIDCAAAgainstOurIdP(t *testing.T) {
	a, ts, info := testApp(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := conformance.RunOIDC(ctx, oidcSuiteOptions(t, a, ts, info, "oidc-aa"))
	if err != nil {
		t.Fatalf("suite: %v", err)
	}
	requireItems(t, rep, "A035", "A036", "A037", "A038")
}
