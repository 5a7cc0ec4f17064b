package conformance

import (
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
)

func setAttr(el *etree.Element, path, key, val string) {
	e := el
	if path != "" {
		e = el.FindElement(path)
	}
	e.CreateAttr(key, val)
}

func removeAttr(path, key string) func(*etree.Element) {
	return func(el *etree.Element) {
		e := el
		if path != "" {
			e = el.FindElement(path)
		}
		e.RemoveAttr(key)
	}
}

func TestValidateResponseCorrect(t *testing.T) {
	now := time.Now()
	for _, lvl := range []string{classL1, classL2} {
		exp := expectFor(t, now)
		if lvl == classL2 {
			exp.Level = 2
		}
		v := ValidateResponse(buildResponse(t, respSpec{now: now, level: lvl}), exp)
		if st, msg := v.Summary(); st != Pass {
			t.Fatalf("%s: correct Response judged %s: %s", lvl, st, msg)
		}
		if len(v.Results) < 30 {
			t.Errorf("only %d checks ran", len(v.Results))
		}
	}
}

// TestValidateResponseMutations proves that each broken Response is caught
// by the check meant for it (one mutation at a time).
func TestValidateResponseMutations(t *testing.T) {
	_, other := testSigners(t)
	now := time.Now()
	cases := []struct {
		name  string
		spec  respSpec
		exp   func(*ResponseExpect)
		check string
	}{
		{"unsigned assertion", respSpec{noSignAss: true}, nil, "assertion.signature"},
		{"unsigned response", respSpec{noSignResp: true}, nil, "response.signature"},
		{"nothing signed", respSpec{noSignResp: true, noSignAss: true}, nil, "assertion.signature"},
		{"SHA-1 signatures", respSpec{alg: algRSASHA1}, nil, "signature.algorithms"},
		{"signed with a key not in metadata", respSpec{signWith: &other}, nil, "assertion.signature"},
		{"wrong Destination", respSpec{mutateResp: func(r *etree.Element) { r.CreateAttr("Destination", "https://evil.example/acs") }}, nil, "response.destination"},
		{"missing Destination", respSpec{mutateResp: removeAttr("", "Destination")}, nil, "response.destination"},
		{"missing InResponseTo", respSpec{mutateResp: removeAttr("", "InResponseTo")}, nil, "response.inresponseto"},
		{"other InResponseTo", respSpec{mutateResp: func(r *etree.Element) { r.CreateAttr("InResponseTo", "_other") }}, nil, "response.inresponseto"},
		{"Response Issuer without Format", respSpec{mutateResp: removeAttr("Issuer", "Format")}, nil, "response.issuer.noformat"},
		{"Response Issuer with another Format", respSpec{mutateResp: func(r *etree.Element) {
			r.SelectElement("Issuer").CreateAttr("Format", "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified")
		}}, nil, "response.issuer.format"},
		{"Assertion Issuer without Format", respSpec{mutateAss: removeAttr("Issuer", "Format")}, nil, "assertion.issuer"},
		{"Response Issuer is another entity", respSpec{mutateResp: func(r *etree.Element) { r.SelectElement("Issuer").SetText("https://other.example") }}, nil, "response.issuer"},
		{"extra attribute", respSpec{attrs: merge(tAttrs, "gender", "F")}, nil, "attributes.set"},
		{"missing requested attribute", respSpec{attrs: without(tAttrs, "email")}, nil, "attributes.set"},
		{"wrong fiscalNumber prefix", respSpec{attrs: merge(tAttrs, "fiscalNumber", "RSSMRA80A41H501X")}, nil, "attributes.values"},
		{"dateOfBirth typed xs:string", respSpec{mutateAss: func(a *etree.Element) {
			for _, at := range a.FindElements("AttributeStatement/Attribute[@Name='dateOfBirth']/AttributeValue") {
				at.CreateAttr("xsi:type", "xs:string")
			}
		}}, nil, "attributes.type"},
		{"attribute without NameFormat", respSpec{mutateAss: removeAttr("AttributeStatement/Attribute[@Name='email']", "NameFormat")}, nil, "attributes.format"},
		{"level lower than asked", respSpec{level: classL1}, func(e *ResponseExpect) { e.Level = 2 }, "level.exact-l2"},
		{"obsolete class ref", respSpec{level: obsoleteClassL2}, nil, "authnstatement"},
		{"SessionIndex for L2", respSpec{level: classL2, mutateAss: func(a *etree.Element) {
			a.FindElement("AuthnStatement").CreateAttr("SessionIndex", "_s")
		}}, func(e *ResponseExpect) { e.Level = 2 }, "sessionindex.l2"},
		{"no SessionIndex for L1", respSpec{mutateAss: removeAttr("AuthnStatement", "SessionIndex")}, nil, "sessionindex.l1"},
		{"better L1 answered with L1", respSpec{}, func(e *ResponseExpect) { e.Comparison = "better" }, "level.better-l1"},
		{"maximum L1 answered with L2", respSpec{level: classL2, sessionIdx: true}, func(e *ResponseExpect) { e.Comparison = "maximum" }, "level"},
		{"SCD NotOnOrAfter in the past", respSpec{mutateAss: func(a *etree.Element) {
			setAttr(a, "Subject/SubjectConfirmation/SubjectConfirmationData", "NotOnOrAfter", formatInstant(now.Add(-time.Minute)))
		}}, nil, "scd.notonorafter"},
		{"Conditions NotOnOrAfter in the past", respSpec{mutateAss: func(a *etree.Element) {
			setAttr(a, "Conditions", "NotOnOrAfter", formatInstant(now.Add(-time.Minute)))
		}}, nil, "conditions"},
		{"Conditions NotBefore in the future", respSpec{mutateAss: func(a *etree.Element) {
			setAttr(a, "Conditions", "NotBefore", formatInstant(now.Add(10*time.Minute)))
		}}, nil, "conditions"},
		{"Audience wrong", respSpec{mutateAss: func(a *etree.Element) {
			a.FindElement("Conditions/AudienceRestriction/Audience").SetText("https://other-sp.example")
		}}, nil, "audience"},
		{"Recipient wrong", respSpec{mutateAss: func(a *etree.Element) {
			setAttr(a, "Subject/SubjectConfirmation/SubjectConfirmationData", "Recipient", "https://sp.example.test/acs/9")
		}}, nil, "scd.recipient"},
		{"SCD InResponseTo missing", respSpec{mutateAss: removeAttr("Subject/SubjectConfirmation/SubjectConfirmationData", "InResponseTo")}, nil, "scd.inresponseto"},
		{"NameID persistent", respSpec{mutateAss: func(a *etree.Element) { setAttr(a, "Subject/NameID", "Format", fmtPersistent) }}, nil, "nameid"},
		{"NameID without NameQualifier", respSpec{mutateAss: removeAttr("Subject/NameID", "NameQualifier")}, nil, "nameid"},
		{"SubjectConfirmation not bearer", respSpec{mutateAss: func(a *etree.Element) {
			setAttr(a, "Subject/SubjectConfirmation", "Method", "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key")
		}}, nil, "subjectconfirmation"},
		{"IssueInstant with one fraction digit", respSpec{mutateResp: func(r *etree.Element) {
			r.CreateAttr("IssueInstant", now.UTC().Format("2006-01-02T15:04:05.0Z"))
		}}, nil, "response.issueinstant"},
		{"IssueInstant in the future", respSpec{mutateResp: func(r *etree.Element) {
			r.CreateAttr("IssueInstant", formatInstant(now.Add(10*time.Minute)))
		}}, nil, "response.issueinstant"},
		{"IssueInstant before the request", respSpec{mutateAss: func(a *etree.Element) {
			a.CreateAttr("IssueInstant", formatInstant(now.Add(-10*time.Minute)))
		}}, nil, "assertion.issueinstant"},
		{"Version 1.1", respSpec{mutateResp: func(r *etree.Element) { r.CreateAttr("Version", "1.1") }}, nil, "response.version"},
		{"Response ID starting with a digit", respSpec{mutateResp: func(r *etree.Element) { r.CreateAttr("ID", "1abc") }}, nil, "response.id"},
		{"Status not Success", respSpec{mutateResp: func(r *etree.Element) { r.FindElement("Status/StatusCode").CreateAttr("Value", statusRequester) }}, nil, "response.status"},
		{"statuss typo", respSpec{mutateResp: func(r *etree.Element) {
			r.FindElement("Status/StatusCode").CreateAttr("Value", "urn:oasis:names:tc:SAML:2.0:statuss:Success")
		}}, nil, "status.uri"},
		{"two assertions", respSpec{afterSigned: func(r *etree.Element) { r.AddChild(r.SelectElement("Assertion").Copy()) }}, nil, "assertion.count"},
		{"tampered after signing", respSpec{afterSigned: func(r *etree.Element) {
			r.FindElement("Assertion/Subject/NameID").SetText("_someone-else")
		}}, nil, "assertion.signature"},
		{"empty AttributeStatement", respSpec{mutateAss: func(a *etree.Element) {
			ast := a.SelectElement("AttributeStatement")
			for _, c := range ast.ChildElements() {
				ast.RemoveChild(c)
			}
		}}, nil, "attributes.statement"},
		{"AttributeStatement when none requested", respSpec{}, func(e *ResponseExpect) { e.RequestedAttrs = nil }, "attributes.none"},
		{"Issuer with surrounding spaces", respSpec{mutateAss: func(a *etree.Element) { a.SelectElement("Issuer").SetText(" " + tIdP + " ") }}, nil, "whitespace"},
		{"Advice present", respSpec{mutateAss: func(a *etree.Element) { a.CreateElement("saml:Advice") }}, nil, "assertion.count"},
		{"signature after Subject", respSpec{afterSigned: func(r *etree.Element) {
			a := r.SelectElement("Assertion")
			sig := a.SelectElement("Signature")
			a.RemoveChild(sig)
			a.InsertChildAt(a.SelectElement("Subject").Index()+1, sig)
		}}, nil, "assertion.signature"},
	}
	if len(cases) < 20 {
		t.Fatal("need at least 20 mutations")
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			exp := expectFor(t, now)
			if c.exp != nil {
				c.exp(&exp)
			}
			c.spec.now = now
			v := ValidateResponse(buildResponse(t, c.spec), exp)
			r, ok := v.Result(c.check)
			if !ok || r.Status != Fail {
				_, sum := v.Summary()
				t.Fatalf("check %s did not fail (ran=%v); failures %v; %s", c.check, ok, v.Failures(), sum)
			}
			if r.Message == "" {
				t.Error("failure without a message")
			}
		})
	}
}

func TestValidateErrorResponse(t *testing.T) {
	now := time.Now()
	for _, code := range []int{8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19, 22, 25} {
		exp := expectFor(t, now)
		exp.Error = code
		v := ValidateResponse(buildResponse(t, respSpec{now: now, errorCode: code}), exp)
		if st, msg := v.Summary(); st != Pass {
			t.Errorf("nr%02d: correct error Response judged %s: %s", code, st, msg)
		}
	}
	bad := []struct {
		name  string
		spec  respSpec
		code  int
		check string
	}{
		{"wrong code", respSpec{errorCode: 19}, 16, "error.status"},
		{"wrong code, same status pair", respSpec{errorCode: 19}, 22, "error.message"},
		{"same status other message", respSpec{errorCode: 14}, 16, "error.message"},
		{"unsigned", respSpec{errorCode: 22, noSignResp: true}, 22, "error.signature"},
		{"success instead of error", respSpec{}, 22, "error.status"},
		{"assertion in error", respSpec{errorCode: 22, mutateResp: func(r *etree.Element) { r.CreateElement("saml:Assertion") }}, 22, "error.noassertion"},
		{"not at default ACS", respSpec{errorCode: 16, mutateResp: func(r *etree.Element) { r.CreateAttr("Destination", "https://sp.example.test/acs/7") }}, 16, "error.destination"},
	}
	for _, b := range bad {
		exp := expectFor(t, now)
		exp.Error = b.code
		b.spec.now = now
		v := ValidateResponse(buildResponse(t, b.spec), exp)
		if r, ok := v.Result(b.check); !ok || r.Status != Fail {
			t.Errorf("%s: check %s did not fail; failures %v", b.name, b.check, v.Failures())
		}
	}
	// nr11 for a request without ID: InResponseTo must be absent.
	exp := expectFor(t, now)
	exp.Error, exp.RequestID = 11, ""
	v := ValidateResponse(buildResponse(t, respSpec{now: now, errorCode: 11}), exp)
	if r, _ := v.Result("error.inresponseto.absent"); r.Status != Fail {
		t.Errorf("InResponseTo present for an ID-less request not caught: %v", v.Failures())
	}
}

func TestValidateResponseGarbage(t *testing.T) {
	exp := expectFor(t, time.Now())
	for _, in := range []string{"", "not xml", "<a>", `<!DOCTYPE x [<!ENTITY e "x">]><samlp:Response xmlns:samlp="` + nsSAMLP + `"/>`, `<x/>`} {
		v := ValidateResponse([]byte(in), exp)
		if !v.Failed() {
			t.Errorf("%q not failed", in)
		}
	}
}

func FuzzValidateResponse(f *testing.F) {
	f.Add(string(buildResponse(f, respSpec{})))
	f.Add(`<samlp:Response xmlns:samlp="` + nsSAMLP + `"><samlp:Status/></samlp:Response>`)
	exp := expectFor(f, time.Now())
	f.Fuzz(func(t *testing.T, s string) {
		v := ValidateResponse([]byte(s), exp)
		if strings.TrimSpace(s) == "" && !v.Failed() {
			t.Fatal("empty input passed")
		}
	})
}

func merge(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for a, b := range m {
		if a != k {
			out[a] = b
		}
	}
	return out
}

func without(m map[string]string, k string) map[string]string {
	out := map[string]string{}
	for a, b := range m {
		if a != k {
			out[a] = b
		}
	}
	if len(out) == 0 {
		return map[string]string{}
	}
	return out
}

// TestDecisionsWarnUnlessStrict: deviations from team decisions (not from
// AgID rules) are warnings by default.
func TestDecisionsWarnUnlessStrict(t *testing.T) {
	now := time.Now()
	raw := buildResponse(t, respSpec{now: now, mutateResp: removeAttr("Issuer", "Format")})
	for _, strict := range []bool{false, true} {
		exp := expectFor(t, now)
		exp.Strict = strict
		v := ValidateResponse(raw, exp)
		want := map[bool]Status{false: Warn, true: Fail}[strict]
		if r, _ := v.Result("response.issuer.noformat"); r.Status != want {
			t.Errorf("strict=%v: %s, want %s", strict, r.Status, want)
		}
	}
}
