package response_test

import (
	"encoding/xml"
	"net/url"
	"testing"
	"time"

	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/spid-idp/spid-idp/idp/response"
	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/keys"
	"github.com/spid-idp/spid-idp/metadata"
)

// idpMetadata returns our real IdP metadata for pair, as SPs download it.
func idpMetadata(t *testing.T, pair keys.Pair) []byte {
	t.Helper()
	md, err := metadata.BuildIdP(metadata.IdPOptions{
		EntityID:       idpEntity,
		SSORedirectURL: idpEntity + "/sso",
		SSOPOSTURL:     idpEntity + "/sso",
		SLORedirectURL: idpEntity + "/slo",
		SLOPOSTURL:     idpEntity + "/slo",
		Signing:        pair,
		Organization: map[string]metadata.Organization{
			"it": {Name: "Esempio S.p.A.", DisplayName: "Esempio", URL: "https://www.example.it"},
		},
		Contact: metadata.Contact{Email: "spid@example.it", VATNumber: "IT01234567890"},
		Now:     func() time.Time { return clock },
	})
	if err != nil {
		t.Fatalf("building IdP metadata: %v", err)
	}
	return md
}

// crewjamSP is a crewjam/saml ServiceProvider that trusts our IdP metadata,
// answers only its own request (no IdP-initiated SSO) and runs on our clock.
// It sets crewjam's package clocks, so tests using it must not run in
// parallel.
func crewjamSP(t *testing.T, pair keys.Pair) (*saml.ServiceProvider, url.URL) {
	t.Helper()
	var ed saml.EntityDescriptor
	if err := xml.Unmarshal(idpMetadata(t, pair), &ed); err != nil {
		t.Fatalf("crewjam cannot read our IdP metadata: %v", err)
	}
	acs, err := url.Parse(acsURL)
	if err != nil {
		t.Fatal(err)
	}
	oldNow, oldClock := saml.TimeNow, saml.Clock
	saml.TimeNow = func() time.Time { return clock.Add(2 * time.Second) } // the POST arrives a little later
	saml.Clock = dsig.NewFakeClockAt(clock)
	t.Cleanup(func() { saml.TimeNow, saml.Clock = oldNow, oldClock })
	return &saml.ServiceProvider{
		EntityID:          spEntity,
		AcsURL:            *acs,
		IDPMetadata:       &ed,
		AllowIDPInitiated: false,
	}, *acs
}

func TestCrewjamAcceptsSuccess(t *testing.T) {
	b := newBuilder(t)
	sp, acs := crewjamSP(t, b.Signing)
	for _, lvl := range []spid.Level{spid.L1, spid.L2} {
		s := sampleSuccess()
		s.Level = lvl
		if lvl != spid.L1 {
			s.SessionIndex = ""
		}
		out, err := b.Success(s)
		if err != nil {
			t.Fatal(err)
		}
		a, err := sp.ParseXMLResponse(out, []string{requestID}, acs)
		if err != nil {
			if ire, ok := err.(*saml.InvalidResponseError); ok {
				t.Fatalf("crewjam refused the L%d Response: %v", lvl, ire.PrivateErr)
			}
			t.Fatalf("crewjam refused the L%d Response: %v", lvl, err)
		}
		if a.Subject.NameID.Value != s.NameID || a.AuthnStatements[0].AuthnContext.AuthnContextClassRef.Value != lvl.ClassRef() {
			t.Errorf("crewjam read NameID %q, class %q", a.Subject.NameID.Value, a.AuthnStatements[0].AuthnContext.AuthnContextClassRef.Value)
		}
		got := map[string]string{}
		for _, st := range a.AttributeStatements {
			for _, at := range st.Attributes {
				got[at.Name] = at.Values[0].Value
			}
		}
		for _, at := range s.Attributes {
			if got[at.Name] != at.Value {
				t.Errorf("crewjam read %s = %q, want %q", at.Name, got[at.Name], at.Value)
			}
		}

		// and it refuses what it must refuse
		if _, err := sp.ParseXMLResponse(out, []string{"_another"}, acs); err == nil {
			t.Error("crewjam accepted a Response to another request")
		}
	}

	// An error Response is read and refused with its status.
	out, err := b.Error(response.ErrorResponse{InResponseTo: requestID, Destination: acsURL, Anomaly: spid.NrConsentDenied})
	if err != nil {
		t.Fatal(err)
	}
	_, err = sp.ParseXMLResponse(out, []string{requestID}, acs)
	ire, ok := err.(*saml.InvalidResponseError)
	if !ok {
		t.Fatalf("crewjam: %v", err)
	}
	if bs, ok := ire.PrivateErr.(saml.ErrBadStatus); !ok || bs.Status != spid.StatusResponder {
		t.Errorf("crewjam on nr22: %v", ire.PrivateErr)
	}
}

// goodAttributes are real-format values for every attribute, through
// AttributesFor.
func goodAttributes(t *testing.T) []response.Attribute {
	t.Helper()
	var req []metadata.RequestedAttribute
	for _, n := range metadata.AttributeNames() {
		req = append(req, metadata.RequestedAttribute{Name: n})
	}
	attrs, err := response.AttributesFor(fullIdentity(), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(attrs) != len(req) {
		t.Fatalf("%d attributes for %d requested", len(attrs), len(req))
	}
	return attrs
}

// crewjam's SP accepts our signed LogoutResponse over HTTP-POST. (It cannot
// read a spec-conformant HTTP-Redirect one: it looks for an XML signature in
// the inflated message, which the Redirect binding requires us to remove.)
func TestCrewjamAcceptsLogoutResponse(t *testing.T) {
	b := newBuilder(t)
	b.Now = time.Now // crewjam checks LogoutResponse age against the real clock
	sp, _ := crewjamSP(t, b.Signing)
	slo, _ := url.Parse("https://sp.example.org/slo")
	sp.SloURL = *slo
	out, err := b.LogoutResponse(response.LogoutResponse{InResponseTo: "_lr", Destination: slo.String()})
	if err != nil {
		t.Fatal(err)
	}
	form := response.PostForm(slo.String(), "SAMLResponse", out, "")
	if err := sp.ValidateLogoutResponseForm(form.Fields[0].Value); err != nil {
		if ire, ok := err.(*saml.InvalidResponseError); ok {
			err = ire.PrivateErr
		}
		t.Fatalf("crewjam refused our LogoutResponse: %v", err)
	}
	partial, err := b.LogoutResponse(response.LogoutResponse{InResponseTo: "_lr", Destination: slo.String(),
		Status: spid.StatusRequester, SubStatus: spid.StatusPartialLogout})
	if err != nil {
		t.Fatal(err)
	}
	if err := sp.ValidateLogoutResponseForm(response.PostForm(slo.String(), "SAMLResponse", partial, "").Fields[0].Value); err == nil {
		t.Error("crewjam took a partial logout for a success")
	}
}
