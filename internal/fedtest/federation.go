package fedtest

import (
	"crypto/rsa"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/spid-idp/spid-idp/federation"
)

// Paths of the members under the base URL (spec §11).
const (
	PathTA  = "/demo-ta"
	PathSA  = "/demo-sa"
	PathRP1 = "/demo-rp"
	PathRP2 = "/demo-sa/rp"
)

// Trust mark id suffixes (spec §0: <TA>/<entity_role>/<profile>/).
const (
	MarkRPPublic  = "/openid_relying_party/public/"
	MarkRPPrivate = "/openid_relying_party/private/"
	MarkOP        = "/openid_provider/private/"
)

// MarkLifetime is the validity of the marks the test federation issues.
const MarkLifetime = 365 * 24 * time.Hour

// Federation is the whole test federation.
type Federation struct {
	Base     string
	TA, SA   *Authority
	RP1, RP2 *RP
	// AA is the test Attribute Authority, below the trust anchor.
	AA *AA
}

// Options configure New.
type Options struct {
	Base string // e.g. http://127.0.0.1:8080 (no trailing slash)
	Keys *KeySource
	// OP, when set, is registered under the trust anchor with its
	// federation keys and gets the OP trust mark (see OPMark).
	OP     string
	OPJWKS jose.JSONWebKeySet
}

// New builds the trust anchor, the intermediate and the two relying
// parties with their statements and trust marks.
func New(o Options) (*Federation, error) {
	base := strings.TrimRight(o.Base, "/")
	f := &Federation{Base: base}
	signer := func(name string) (federation.Signer, *rsa.PrivateKey, error) {
		k, err := o.Keys.Key(name)
		if err != nil {
			return federation.Signer{}, nil, err
		}
		s, err := federation.NewSigner(k, jose.RS256)
		return s, k, err
	}
	taKey, _, err := signer("ta")
	if err != nil {
		return nil, fmt.Errorf("fedtest: %w", err)
	}
	saKey, _, err := signer("sa")
	if err != nil {
		return nil, fmt.Errorf("fedtest: %w", err)
	}
	taID := base + PathTA
	f.TA = NewAuthority(taID, taKey, nil)
	one := 1
	f.TA.Constraints = &federation.Constraints{MaxPathLength: &one}
	f.TA.TrustMarkIssuers = map[string][]string{
		taID + MarkRPPublic: {taID, base + PathSA},
		taID + MarkOP:       {taID},
		taID + MarkAA:       {taID},
	}
	f.SA = NewAuthority(base+PathSA, saKey, []string{taID})
	f.TA.Add(f.SA.ID, Subordinate{Type: federation.TypeFederationEntity, JWKS: f.SA.JWKS()})

	if f.RP1, err = NewRP(o.Keys, "rp1", base+PathRP1, "RP dimostrativo 1", taID); err != nil {
		return nil, err
	}
	if f.RP2, err = NewRP(o.Keys, "rp2", base+PathRP2, "RP dimostrativo 2", f.SA.ID); err != nil {
		return nil, err
	}
	f.RP1.NameEN, f.RP2.NameEN = "Demo RP 1", "Demo RP 2"
	f.TA.Add(f.RP1.ID, Subordinate{Type: federation.TypeRelyingParty, JWKS: f.RP1.JWKS(), Policy: RPPolicy(f.RP1.CoreJWKS())})
	f.SA.Add(f.RP2.ID, Subordinate{Type: federation.TypeRelyingParty, JWKS: f.RP2.JWKS(), Policy: RPPolicy(f.RP2.CoreJWKS())})
	m1, err := f.TA.Mark(taID+MarkRPPublic, f.RP1.ID, MarkLifetime)
	if err != nil {
		return nil, err
	}
	f.RP1.TrustMarks = []federation.TrustMarkRef{m1}
	m2, err := f.SA.Mark(taID+MarkRPPublic, f.RP2.ID, MarkLifetime)
	if err != nil {
		return nil, err
	}
	f.RP2.TrustMarks = []federation.TrustMarkRef{m2}
	if f.AA, err = NewAA(o.Keys, "aa", base+PathAA, "Attribute Authority dimostrativa", taID); err != nil {
		return nil, err
	}
	f.AA.NameEN = "Demo Attribute Authority"
	f.TA.Add(f.AA.ID, Subordinate{Type: federation.TypeOAuthResource, JWKS: f.AA.JWKS()})
	ma, err := f.TA.Mark(taID+MarkAA, f.AA.ID, MarkLifetime)
	if err != nil {
		return nil, err
	}
	f.AA.TrustMarks = []federation.TrustMarkRef{ma}
	if o.OP != "" {
		f.TA.Add(o.OP, Subordinate{Type: federation.TypeOpenIDProvider, JWKS: o.OPJWKS})
	}
	return f, nil
}

// Anchor is the trust anchor as the OP's configuration pins it.
func (f *Federation) Anchor() federation.TrustAnchor {
	return federation.TrustAnchor{EntityID: f.TA.ID, JWKS: f.TA.JWKS()}
}

// OPMark issues the OP trust mark for op.
func (f *Federation) OPMark(op string) (federation.TrustMarkRef, error) {
	return f.TA.Mark(f.TA.ID+MarkOP, op, MarkLifetime)
}

// RPMarks are the trust mark id suffixes the OP requires of relying
// parties.
func RPMarks() []string { return []string{MarkRPPublic, MarkRPPrivate} }

// Mount adds every member's endpoints to mux.
func (f *Federation) Mount(mux *http.ServeMux) {
	mux.Handle(PathTA+"/", http.StripPrefix(PathTA, f.TA.Handler()))
	mux.Handle(PathSA+"/", http.StripPrefix(PathSA, f.SA.Handler()))
	mux.Handle(PathRP1+"/", http.StripPrefix(PathRP1, f.RP1.Handler()))
	mux.Handle(PathRP2+"/", http.StripPrefix(PathRP2, f.RP2.Handler()))
	mux.Handle(PathAA+"/", http.StripPrefix(PathAA, f.AA.Handler()))
}

// Handler is a mux with the whole federation, for tests.
func (f *Federation) Handler() *http.ServeMux {
	mux := http.NewServeMux()
	f.Mount(mux)
	return mux
}
