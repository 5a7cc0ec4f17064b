package conformance

import (
	"bytes"
	"context"
	"time"

	"encoding/json"
	"github.com/pquerna/otp/totp"
	"strings"
	"testing"
)

// TestRunAgainstFakeIdP runs every case against the small fake IdP and
// checks the rows the fake is built to satisfy, proving the driver, the
// request builders and the runner work end to end.
func TestRunAgainstFakeIdP(t *testing.T) {
	f := newFakeIdP(t, "")
	opt := Options{
		IdPMetadata: f.srv.URL + "/metadata", HTTPClient: f.srv.Client(),
		Credentials:  Credentials{User: "maria", Password: "secret", TOTPSecret: f.secret},
		OnSPMetadata: f.register, TOTPReuse: true,
	}
	rep, err := Run(t.Context(), opt)
	if err != nil {
		t.Fatal(err)
	}
	mustPass := map[string][]string{
		"metadata":                    {"C002", "C003", "C005", "C006", "C007", "C008", "C011", "C012", "C013", "C014", "C015"},
		"login-l1-redirect":           {"C039", "C084", "C102", "C105", "C109", "C110", "C111", "C112", "C113", "C114", "C115", "C116", "C117", "C118", "C121", "C122", "C124", "C125", "C126", "C127", "C128", "C134", "C135", "C136", "C137"},
		"login-l1-post":               {"C084", "C103", "C110", "C134"},
		"login-l2-redirect":           {"C129", "C130", "C100"},
		"login-l2-post":               {"C102", "C129"},
		"login-acs-url":               {"C085"},
		"login-no-attr-index":         {"C091", "C138"},
		"accept-destination-entityid": {"C066"},
		"nameid-transient":            {"C119"},
		"redirect-no-samlrequest":     {"C027"},
		"redirect-no-sigalg":          {"C028"},
		"post-no-samlrequest":         {"C030"},
		"redirect-garbage":            {"C031"},
		"post-doctype":                {"C032"},
		"wrong-method":                {"C034"},
		"redirect-sha1":               {"C035"},
		"redirect-hmac":               {"C036"},
		"redirect-other-key":          {"C037"},
		"redirect-relaystate-changed": {"C038"},
		"post-unsigned":               {"C041"},
		"post-sha1":                   {"C042"},
		"post-tampered":               {"C043"},
		"post-wrong-reference":        {"C044"},
		"post-keyinfo-other-cert":     {"C045"},
		"redirect-signed-by-other-sp": {"C047"},
		"issuer-missing":              {"C049"},
		"issuer-unknown":              {"C050"},
		"issuer-no-format":            {"C051"},
		"issuer-no-namequalifier":     {"C052"},
		"version-1.1":                 {"C054"},
		"version-missing":             {"C055"},
		"id-not-ncname":               {"C057"},
		"id-replay":                   {"C058"},
		"destination-wrong":           {"C065"},
		"authncontext-missing":        {"C070"},
		"classref-obsolete":           {"C071"},
		"classref-several":            {"C073"},
		"acs-index-unknown":           {"C076"},
		"acs-index-and-url":           {"C077"},
		"acs-none":                    {"C081"},
		"acs-url-unknown":             {"C082"},
		"acs-binding-redirect":        {"C083"},
		"attr-index-unknown":          {"C090"},
		"level-l3":                    {"C145"},
		"consent-refused":             {"C147"},
		"login-cancelled":             {"C151"},
		"wrong-password":              {"C143"},
		"sso":                         {"C157", "C148", "C158", "C159", "C161"},
		"sso-l2-no-session":           {"C160"},
		"slo-redirect":                {"C166", "C173", "C178", "C180"},
		"slo-post":                    {"C167", "C173", "C178"},
		"slo-unsigned":                {"C168"},
		"slo-issuer-no-format":        {"C169"},
	}
	for c, ids := range mustPass {
		for _, id := range ids {
			if st, why := rowStatus(rep, c, id); st != Pass {
				t.Errorf("%s %s: %s (%s)", c, id, st, why)
			}
		}
	}
	// The fake has no size limit: a team decision, so a warning unless strict.
	if st, _ := rowStatus(rep, "post-oversize", "C033"); st != Warn {
		t.Errorf("oversize request accepted by the fake judged %s, want warn", st)
	}
	// The fake does not check IssueInstant: the suite must notice.
	if st, _ := rowStatus(rep, "issueinstant-stale", "C061"); st != Fail {
		t.Errorf("stale IssueInstant accepted by the fake but judged %s", st)
	}
	var tbl, js, html bytes.Buffer
	if err := rep.WriteTable(&tbl); err != nil || !strings.Contains(tbl.String(), "C115") || !strings.Contains(tbl.String(), "Assertion signed") {
		t.Errorf("table: %v", err)
	}
	if err := rep.WriteJSON(&js); err != nil || !json.Valid(js.Bytes()) {
		t.Errorf("json: %v", err)
	}
	if err := rep.WriteHTML(&html); err != nil || !strings.Contains(html.String(), "Not checked from outside") {
		t.Errorf("html: %v", err)
	}
	if strings.Contains(html.String(), "<script") || strings.Contains(html.String(), "http://") && strings.Contains(html.String(), "<link") {
		t.Error("HTML report must be self-contained")
	}
}

// TestInjectedDefectsCaught proves that a defect in the IdP is caught by the
// case meant for it, end to end.
func TestInjectedDefectsCaught(t *testing.T) {
	for _, d := range []struct {
		defect, caseName, id string
	}{
		{"unsigned-assertion", "login-l1-redirect", "C115"},
		{"wrong-destination", "login-l1-redirect", "C110"},
		{"extra-attribute", "login-l1-post", "C134"},
		{"metadata-no-slo-post", "metadata", "C013"},
		{"wrong-error-code", "version-1.1", "C054"},
		{"sha1", "login-l1-redirect", "C117"},
		{"missing-inresponseto", "login-l1-redirect", "C109"},
		{"issuer-wrong-format", "login-l1-redirect", "C112"},
		{"missing-attribute", "login-l1-redirect", "C134"},
		{"fiscalnumber-prefix", "login-l1-redirect", "C137"},
		{"level-lower", "login-l2-redirect", "C130"},
		{"notonorafter-past", "login-l1-redirect", "C123"},
		{"audience-wrong", "login-l1-redirect", "C126"},
		{"unsigned-response", "login-l1-redirect", "C116"},
		{"foreign-key", "login-l1-redirect", "C115"},
		{"nameid-persistent", "login-l1-redirect", "C118"},
		{"recipient-wrong", "login-l1-redirect", "C121"},
		{"sessionindex-l2", "login-l2-post", "C129"},
		{"no-sessionindex-l1", "login-l1-post", "C128"},
		{"notbefore-future", "login-l1-redirect", "C125"},
		{"obsolete-classref", "login-l1-redirect", "C127"},
		{"relaystate-dropped", "login-l1-redirect", "C102"},
		{"millisecond-digits", "login-l1-redirect", "C107"},
		{"error-unsigned", "version-1.1", "C054"},
		{"cancel-wrong-code", "login-cancelled", "C151"},
		{"consent-ignored", "consent-refused", "C147"},
		{"sso-no-reuse", "sso", "C157"},
		{"force-ignored", "sso", "C158"},
		{"comparison-default", "comparison-missing", "C074"},
	} {
		t.Run(d.defect, func(t *testing.T) {
			rep, _ := runAgainst(t, d.defect, d.caseName)
			if st, why := rowStatus(rep, d.caseName, d.id); st != Fail {
				t.Fatalf("%s not caught by %s/%s: %s %s", d.defect, d.caseName, d.id, st, why)
			}
			if !rep.Failed() {
				t.Error("report not failed")
			}
		})
	}
}

// TestStrictMakesDecisionsFail: a team decision warns by default and fails
// in strict mode.
func TestStrictMakesDecisionsFail(t *testing.T) {
	for _, strict := range []bool{false, true} {
		f := newFakeIdP(t, "")
		rep, err := Run(t.Context(), Options{
			IdPMetadata: f.srv.URL + "/metadata", HTTPClient: f.srv.Client(),
			Credentials: Credentials{User: "maria", Password: "secret"}, OnSPMetadata: f.register,
			Only: []string{"C033"}, Strict: strict,
		})
		if err != nil {
			t.Fatal(err)
		}
		want := map[bool]Status{false: Warn, true: Fail}[strict]
		if st, why := rowStatus(rep, "post-oversize", "C033"); st != want {
			t.Errorf("strict=%v: %s (%s), want %s", strict, st, why, want)
		}
	}
}

// TestOTPCodeHook: a caller-supplied code source replaces the TOTP seed.
func TestOTPCodeHook(t *testing.T) {
	f := newFakeIdP(t, "")
	calls := 0
	rep, err := Run(t.Context(), Options{
		IdPMetadata: f.srv.URL + "/metadata", HTTPClient: f.srv.Client(), OnSPMetadata: f.register,
		Only: []string{"login-l2-post"},
		Credentials: Credentials{User: "maria", Password: "secret", OTPCode: func(ctx context.Context) (string, error) {
			calls++
			return totp.GenerateCode(f.secret, time.Now())
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if st, why := rowStatus(rep, "login-l2-post", "C129"); st != Pass || calls != 1 {
		t.Errorf("L2 login with OTPCode hook: %s %s (calls %d)", st, why, calls)
	}
}

func TestOnlySelectsByChecklistID(t *testing.T) {
	var names []string
	for _, c := range allCases() {
		if selected(c, []string{"c115"}) {
			names = append(names, c.name)
		}
	}
	if len(names) < 4 || names[0] != "login-l1-redirect" {
		t.Errorf("--only C115 selected %v", names)
	}
	if !selected(allCases()[0], []string{" metadata "}) {
		t.Error("--only by case name")
	}
}
