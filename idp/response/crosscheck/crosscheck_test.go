// Package crosscheck runs the IdP's Responses through the team's strict SPID
// Response validator (package conformance, which the IdP is judged by). It
// lives apart from package response's own tests so that work in progress on
// the validator never blocks them.
package crosscheck

import (
	"crypto/x509"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/conformance"
	"github.com/spid-idp/spid-idp/idp/response"
	"github.com/spid-idp/spid-idp/idp/response/responsetest"
	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/storage"
)

const (
	idpEntity = "https://idp.example.it"
	spEntity  = "https://sp.example.org/metadata"
	acsURL    = "https://sp.example.org/acs"
	requestID = "_4d38c302617b5bf98951e65b4cf304711e2166df20"
)

var (
	clock      = time.Date(2026, 3, 14, 9, 26, 53, 589_793_238, time.UTC)
	reqInstant = clock.Add(-1500 * time.Millisecond)
)

func TestConformanceValidator(t *testing.T) {
	b := &response.Builder{EntityID: idpEntity, Signing: responsetest.Pair(t, 0), Now: func() time.Time { return clock }}
	exp := conformance.ResponseExpect{
		IdPEntityID:         idpEntity,
		IdPCerts:            []*x509.Certificate{b.Signing.Cert},
		SPEntityID:          spEntity,
		Destination:         acsURL,
		RequestID:           requestID,
		RequestIssueInstant: reqInstant,
		Now:                 clock.Add(time.Second),
		Strict:              true,
	}
	identity := storage.Identity{ID: "i1", Attributes: map[string]string{
		"spidCode": "EXID0A1B2C3D4E", "name": "Mario", "familyName": "Rossi",
		"fiscalNumber": "RSSMRA85T10A562S", "dateOfBirth": "1985-12-10", "gender": "M",
		"email": "mario.rossi@example.it", "mobilePhone": "3331234567",
		"idCard":         "cartaIdentita CA12345AB ComuneRoma 2021-03-01 2031-03-01",
		"expirationDate": "2030-12-31", "domicileNation": "it",
	}}
	var requested []metadata.RequestedAttribute
	var names []string
	for n := range identity.Attributes {
		requested = append(requested, metadata.RequestedAttribute{Name: n})
		names = append(names, n)
	}
	attrs, err := response.AttributesFor(identity, requested)
	if err != nil {
		t.Fatal(err)
	}
	base := response.Success{
		InResponseTo: requestID, RequestIssueInstant: reqInstant, Destination: acsURL, Audience: spEntity,
		NameID: response.RandomID(), AuthnInstant: clock.Add(-30 * time.Second),
	}
	judge := func(t *testing.T, out []byte, e conformance.ResponseExpect) {
		t.Helper()
		v := conformance.ValidateResponse(out, e)
		if st, msg := v.Summary(); st != conformance.Pass {
			t.Errorf("conformance %s: %s; failures %v", st, msg, v.Failures())
		}
	}

	t.Run("L2 with attributes", func(t *testing.T) {
		s := base
		s.Level, s.IncludeAttributeStatement, s.Attributes = spid.L2, true, attrs
		out, err := b.Success(s)
		if err != nil {
			t.Fatal(err)
		}
		e := exp
		e.Level, e.RequestedAttrs = 2, names
		judge(t, out, e)
	})
	t.Run("L1 without attributes", func(t *testing.T) {
		s := base
		s.Level, s.SessionIndex = spid.L1, response.RandomID()
		out, err := b.Success(s)
		if err != nil {
			t.Fatal(err)
		}
		e := exp
		e.Level = 1
		judge(t, out, e)
	})
	for _, a := range []spid.Anomaly{
		spid.NrNotCompliant, spid.NrVersion, spid.NrAuthnContext, spid.NrIssueInstant,
		spid.NrDestination, spid.NrIsPassive, spid.NrACS, spid.NrNameIDPolicy, spid.NrAttrConsumingIndex,
		spid.NrCredentialsExhausted, spid.NrLevelUnavailable, spid.NrTimeout, spid.NrConsentDenied,
		spid.NrSuspendedRevoked, spid.NrCancelled, spid.NrIdentityType,
	} {
		t.Run(a.String(), func(t *testing.T) {
			out, err := b.Error(response.ErrorResponse{InResponseTo: requestID, Destination: acsURL, Anomaly: a})
			if err != nil {
				t.Fatal(err)
			}
			e := exp
			e.Error = int(a)
			judge(t, out, e)
		})
	}
	t.Run("nr11 without InResponseTo", func(t *testing.T) {
		out, err := b.Error(response.ErrorResponse{Destination: acsURL, Anomaly: spid.NrID})
		if err != nil {
			t.Fatal(err)
		}
		e := exp
		e.Error, e.RequestID = int(spid.NrID), ""
		judge(t, out, e)
	})
}
