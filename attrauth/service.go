package attrauth

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/idp/response"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/server/csp"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
)

// Service is what the login flows (SAML and OIDC) use: which requested AAs
// to offer, the page data of the choice and of the consent, and the grant
// tokens of the chosen AAs.
type Service struct {
	Registry *Registry
	Grants   *Grants
	// Claims are the user's claims in OIDC form (oidc.Claims): the values
	// grant tokens carry (spec §8).
	Claims func(id storage.Identity, names []string) (map[string]any, error)
	// Attributes are the SAML attributes behind claims
	// (oidc.SAMLAttributes), to show the person what an AA receives.
	Attributes func(claims []string) []metadata.RequestedAttribute
	Lifetime   time.Duration
	Now        func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Requested keeps the requested ids that name registry AAs, in order,
// deduplicated. Empty: the login goes on as if no AA had been asked for
// (the "authenticate normally" cases, A004–A007, A036).
func (s *Service) Requested(ctx context.Context, ids []string) []string {
	if s == nil || s.Registry == nil {
		return nil
	}
	var out []string
	for _, aa := range s.Registry.Lookup(ctx, ids) {
		out = append(out, aa.ID)
	}
	return out
}

func (s *Service) claimsOf(id storage.Identity, aas []AA) (map[string]any, error) {
	var names []string
	for _, aa := range aas {
		for _, c := range append([]string{aa.Lookup}, aa.Required...) {
			if !slices.Contains(names, c) {
				names = append(names, c)
			}
		}
	}
	claims, err := s.Claims(id, names)
	if err != nil {
		return nil, fmt.Errorf("attrauth: claims of the identity: %w", err)
	}
	return claims, nil
}

// Options are the AAs of the choice page: each requested AA still in the
// registry, disabled with the missing attributes when the person lacks
// some (spec §9.3 [DEC]).
func (s *Service) Options(ctx context.Context, requested []string, id storage.Identity) ([]templates.AAOption, error) {
	aas := s.Registry.Lookup(ctx, requested)
	claims, err := s.claimsOf(id, aas)
	if err != nil {
		return nil, err
	}
	out := make([]templates.AAOption, 0, len(aas))
	for _, aa := range aas {
		o := templates.AAOption{ID: aa.ID, Name: aa.Name, Names: aa.Names, Logo: aa.Logo}
		for _, a := range s.Attributes(Missing(aa, claims)) {
			o.Missing = append(o.Missing, a.Name)
		}
		if len(o.Missing) == 0 && len(Missing(aa, claims)) > 0 {
			o.Missing = Missing(aa, claims) // claims without a SAML attribute: shown by name
		}
		out = append(out, o)
	}
	return out, nil
}

// Chosen keeps, among the posted ids, the requested AAs the person may
// choose (never one that was not offered or is disabled), in request order.
func (s *Service) Chosen(ctx context.Context, requested, posted []string, id storage.Identity) ([]string, error) {
	opts, err := s.Options(ctx, requested, id)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, o := range opts {
		if len(o.Missing) == 0 && slices.Contains(posted, o.ID) {
			out = append(out, o.ID)
		}
	}
	return out, nil
}

// Confirmation are the chosen AAs with the data each will receive, for the
// consent page (A015).
func (s *Service) Confirmation(ctx context.Context, chosen []string, id storage.Identity) ([]templates.AAOption, error) {
	aas := s.Registry.Lookup(ctx, chosen)
	out := make([]templates.AAOption, 0, len(aas))
	for _, aa := range aas {
		names := append([]string{aa.Lookup}, aa.Required...)
		attrs, err := response.AttributesFor(id, s.Attributes(names))
		if err != nil {
			return nil, fmt.Errorf("attrauth: attributes for %s: %w", aa.ID, err)
		}
		o := templates.AAOption{ID: aa.ID, Name: aa.Name, Names: aa.Names, Logo: aa.Logo}
		for _, a := range attrs {
			o.Attributes = append(o.Attributes, templates.Attribute{Name: a.Name, Value: a.Value})
		}
		out = append(out, o)
	}
	return out, nil
}

// Issued is one grant token with the AA it is for.
type Issued struct {
	AA    string
	Token string
	JTI   string
}

// Issue mints and records a grant token for each chosen AA (spec §9.4).
// An AA that left the registry since the choice is skipped.
func (s *Service) Issue(ctx context.Context, signer Signer, issuer, actor, sid, acr string, chosen []string, id storage.Identity) ([]Issued, error) {
	aas := s.Registry.Lookup(ctx, chosen)
	if len(aas) == 0 {
		return nil, nil
	}
	claims, err := s.claimsOf(id, aas)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var out []Issued
	for _, aa := range aas {
		m, err := Mint(signer, Grant{Issuer: issuer, AA: aa, SID: sid, ACR: acr, Actor: actor, Claims: claims, Lifetime: s.Lifetime}, now)
		if err != nil {
			return nil, fmt.Errorf("attrauth: grant for %s: %w", aa.ID, err)
		}
		if s.Grants != nil {
			if err := s.Grants.Save(ctx, issuer, aa, actor, m); err != nil {
				return nil, err
			}
		}
		out = append(out, Issued{AA: aa.ID, Token: m.JWE, JTI: m.JTI})
	}
	return out, nil
}

// AllowLogos sets the page's policy so that the AAs' HTTPS logos load
// (A017): images from 'self', data: and exactly the logos' origins.
func AllowLogos(h http.Header, opts []templates.AAOption) {
	var origins []string
	for _, o := range opts {
		if !strings.HasPrefix(o.Logo, "https://") {
			continue // http logos load only from our own origin ('self')
		}
		if or, ok := csp.Origin(o.Logo); ok && !slices.Contains(origins, or) {
			origins = append(origins, or)
		}
	}
	if len(origins) == 0 {
		return
	}
	h.Set(csp.Header, strings.Replace(csp.Policy(), "img-src 'self' data:", "img-src 'self' data: "+strings.Join(origins, " "), 1))
}
