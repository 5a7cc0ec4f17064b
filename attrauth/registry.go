// Package attrauth is the IdP's side of SPID Attribute Authorities (spec
// oidc-federation.md §9): the registry of the federation's AAs, the
// selection and consent step a citizen goes through after authenticating
// when a service asks for AAs, and the grant tokens (signed, then
// encrypted for the AA) that let the service query each chosen AA on the
// citizen's behalf. SAML (idp/) and OpenID Connect (oidc/) both use it.
package attrauth

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/spid-idp/spid-idp/federation"
)

// Names and limits of spec §0, §9.
const (
	// NS is the namespace of the SAML AA extensions.
	NS = "https://spid.gov.it/saml-extensions"
	// DetailsType is the OIDC authorization_details type asking for AAs.
	DetailsType = "https://spid.gov.it/attribute-authority/required-aa"
	// TokenType is the tokens[].type of a grant token in the ID Token.
	TokenType = "https://spid.gov.it/attribute-authority/grant-token"
	// JOSEType is the typ of both layers of a grant token.
	JOSEType = "aa-grant+jwt"
	// MaxLocations requested AAs are considered; the rest is ignored [DEC].
	MaxLocations = 10
	// DefaultRefresh is how long the AA list is kept before it is
	// discovered again; the last good copy stays when discovery fails.
	DefaultRefresh = 24 * time.Hour
	// FallbackLookup is the grant token sub when an AA names no lookup
	// attribute (spec §9.4).
	FallbackLookup = "https://attributes.eid.gov.it/fiscal_number"
)

// MarkSuffixes are the AA trust mark ids below a trust anchor (spec §9.1).
var MarkSuffixes = []string{"/oauth_resource/public/", "/oauth_resource/private/"}

// AA is an Attribute Authority as the registry offers it.
type AA struct {
	// ID is the entity id, as the trust anchor lists it: the aud of its
	// grant tokens and the Destination of the SAML GrantToken.
	ID   string
	Name string
	// Names are its organization_name per language (organization_name#en,
	// …), when its metadata has them; Name is the untagged one.
	Names map[string]string
	// Logo is the logo_uri, shown unchanged as <img src> (A012).
	Logo string
	// EncKey is the RSA key grant tokens are encrypted for.
	EncKey jose.JSONWebKey
	// Required are the claims (OIDC names) the AA needs in the grant token.
	Required []string
	// Lookup is the claim whose value is the grant token sub.
	Lookup string
}

// Registry lists the federation's AAs: those the trust anchors list as
// oauth_resource entities, each trusted through a resolved chain with an
// AA trust mark (A001), with a name, a logo, an RSA encryption key and the
// attributes it requires (A002, A003).
type Registry struct {
	Anchors []federation.TrustAnchor
	Fetcher *federation.Fetcher
	// Resolver resolves the AAs' chains; it must require MarkSuffixes for
	// federation.TypeOAuthResource (NewRegistry sets one up).
	Resolver *federation.Resolver
	Refresh  time.Duration
	Log      *slog.Logger
	Now      func() time.Time

	mu      sync.Mutex
	aas     map[string]AA
	loaded  time.Time
	loading chan struct{}
}

// NewRegistry makes a registry over the given anchors and fetcher, with
// its own resolver asking AAs for their trust mark.
func NewRegistry(anchors []federation.TrustAnchor, fetcher *federation.Fetcher, log *slog.Logger) *Registry {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Registry{Anchors: anchors, Fetcher: fetcher, Log: log,
		Resolver: &federation.Resolver{Anchors: anchors, Fetcher: fetcher, CheckStatus: true,
			TrustMarks: map[string][]string{federation.TypeOAuthResource: MarkSuffixes}}}
}

func (r *Registry) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Lookup returns, in request order, the registry AAs among the requested
// entity ids: blanks are skipped, ids trimmed, duplicates merged and at
// most MaxLocations considered (spec §9.2, A010). None found is not an
// error: the login goes on without AAs (A004–A007).
func (r *Registry) Lookup(ctx context.Context, ids []string) []AA {
	all := r.all(ctx)
	var out []AA
	seen := map[string]bool{}
	n := 0
	for _, id := range ids {
		id = strings.TrimSpace(id)
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		if n++; n > MaxLocations {
			break
		}
		if aa, ok := all[id]; ok {
			out = append(out, aa)
		}
	}
	return out
}

// Get returns one AA of the registry.
func (r *Registry) Get(ctx context.Context, id string) (AA, bool) {
	aa, ok := r.all(ctx)[id]
	return aa, ok
}

// All returns every AA, sorted by id.
func (r *Registry) All(ctx context.Context) []AA {
	m := r.all(ctx)
	out := make([]AA, 0, len(m))
	for _, aa := range m {
		out = append(out, aa)
	}
	slices.SortFunc(out, func(a, b AA) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// all is the current list, discovered again once it is older than the
// refresh period; one discovery runs at a time and the others use the
// copy they have (or wait for the first one).
func (r *Registry) all(ctx context.Context) map[string]AA {
	refresh := r.Refresh
	if refresh <= 0 {
		refresh = DefaultRefresh
	}
	r.mu.Lock()
	if r.aas != nil && r.now().Sub(r.loaded) < refresh {
		defer r.mu.Unlock()
		return r.aas
	}
	if r.loading != nil {
		wait, have := r.loading, r.aas
		r.mu.Unlock()
		if have != nil {
			return have
		}
		select {
		case <-wait:
		case <-ctx.Done():
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.aas
	}
	done := make(chan struct{})
	r.loading = done
	r.mu.Unlock()

	found, err := r.Discover(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.loading = nil
	close(done)
	if err != nil && r.aas != nil {
		r.Log.WarnContext(ctx, "attribute authorities: discovery failed, keeping the last list", "err", err)
		r.loaded = r.now().Add(-refresh + 5*time.Minute) // retry in 5 minutes
		return r.aas
	}
	if err != nil {
		r.Log.WarnContext(ctx, "attribute authorities: discovery failed", "err", err)
	}
	r.aas, r.loaded = found, r.now()
	if err != nil {
		r.loaded = r.now().Add(-refresh + 5*time.Minute)
	}
	return r.aas
}

// Invalidate makes the next lookup discover the AAs again.
func (r *Registry) Invalidate() {
	r.mu.Lock()
	r.loaded = time.Time{}
	r.mu.Unlock()
}

// Discover asks every anchor's list endpoint for its oauth_resource
// entities and keeps those that resolve and are usable. Unusable AAs are
// logged and left out; err is set only when no anchor could be asked.
func (r *Registry) Discover(ctx context.Context) (map[string]AA, error) {
	out := map[string]AA{}
	var errs []error
	asked := 0
	for _, ta := range r.Anchors {
		ids, err := r.list(ctx, ta)
		if err != nil {
			errs = append(errs, fmt.Errorf("trust anchor %s: %w", ta.EntityID, err))
			continue
		}
		asked++
		for _, id := range ids {
			if _, dup := out[id]; dup {
				continue
			}
			aa, err := r.describe(ctx, id)
			if err != nil {
				r.Log.WarnContext(ctx, "attribute authority not offered", "aa", id, "err", err)
				continue
			}
			out[id] = aa
		}
	}
	if asked == 0 && len(errs) > 0 {
		return out, errors.Join(errs...)
	}
	return out, nil
}

// list reads the anchor's federation_list_endpoint for oauth_resource.
func (r *Registry) list(ctx context.Context, ta federation.TrustAnchor) ([]string, error) {
	body, err := r.Fetcher.Get(ctx, federation.EntityConfigurationURL(ta.EntityID))
	if err != nil {
		return nil, err
	}
	ec, err := federation.ParseStatement(strings.TrimSpace(string(body)), &ta.JWKS, r.now())
	if err != nil {
		return nil, err
	}
	endpoint, _ := ec.Metadata[federation.TypeFederationEntity]["federation_list_endpoint"].(string)
	if endpoint == "" {
		return nil, errors.New("no federation_list_endpoint")
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("federation_list_endpoint: %w", err)
	}
	q := u.Query()
	q.Set("entity_type", federation.TypeOAuthResource)
	u.RawQuery = q.Encode()
	body, err = r.Fetcher.Get(ctx, u.String())
	if err != nil {
		return nil, err
	}
	var ids []string
	if err := json.Unmarshal(body, &ids); err != nil {
		return nil, fmt.Errorf("list endpoint answer is not a JSON array of entity ids: %w", err)
	}
	return ids, nil
}

// describe resolves one AA and gathers what the registry holds about it.
func (r *Registry) describe(ctx context.Context, id string) (AA, error) {
	chain, err := r.Resolver.Resolve(ctx, id, federation.TypeOAuthResource)
	if err != nil {
		return AA{}, err
	}
	leaf := chain.Leaf()
	fe := leaf.Metadata[federation.TypeFederationEntity]
	as := leaf.Metadata["oauth_authorization_server"]
	res := chain.Metadata
	aa := AA{ID: id, Name: str(fe, "organization_name"), Logo: str(fe, "logo_uri")}
	if aa.Name == "" {
		aa.Name = str(res, "organization_name")
	}
	if aa.Names = federation.LocalNames(fe, "organization_name"); aa.Names == nil {
		aa.Names = federation.LocalNames(res, "organization_name")
	}
	if aa.Logo == "" {
		aa.Logo = str(res, "logo_uri")
	}
	if aa.Name == "" {
		return AA{}, errors.New("no organization_name")
	}
	key, ok := encKey(jwksOf(as), jwksOf(res), &leaf.JWKS)
	if !ok {
		return AA{}, errors.New("no RSA encryption key of at least 2048 bits (A003)")
	}
	aa.EncKey = key
	aa.Required, aa.Lookup, err = r.attributes(ctx, chain, res)
	if err != nil {
		return AA{}, err
	}
	if len(aa.Required) == 0 {
		return AA{}, errors.New("no required attributes (A003)")
	}
	if aa.Lookup == "" {
		aa.Lookup = FallbackLookup
	}
	return aa, nil
}

// attributes reads aa-required-attributes and aa-lookup-attribute from the
// AA's OpenAPI document (info.x-spid), named by service_documentation in
// its trust mark or its oauth_resource metadata; a trust mark claims
// object is the alternative for the required attributes (spec §9.1).
func (r *Registry) attributes(ctx context.Context, chain *federation.Chain, res map[string]any) ([]string, string, error) {
	doc := str(res, "service_documentation")
	var markClaims []string
	for _, ref := range chain.TrustMarks {
		raw, err := federation.UnverifiedPayload(ref.TrustMark) // verified by the resolver
		if err != nil {
			continue
		}
		var tm struct {
			Doc    string         `json:"service_documentation"`
			Claims map[string]any `json:"claims"`
		}
		if json.Unmarshal(raw, &tm) != nil {
			continue
		}
		if tm.Doc != "" {
			doc = tm.Doc
		}
		for c := range tm.Claims {
			markClaims = append(markClaims, c)
		}
	}
	slices.Sort(markClaims)
	if doc == "" {
		return markClaims, "", nil
	}
	body, err := r.Fetcher.Get(ctx, doc)
	if err != nil {
		if len(markClaims) > 0 {
			return markClaims, "", nil
		}
		return nil, "", fmt.Errorf("service documentation: %w", err)
	}
	var api struct {
		Info struct {
			XSPID struct {
				Required []string `json:"aa-required-attributes"`
				Lookup   string   `json:"aa-lookup-attribute"`
			} `json:"x-spid"`
		} `json:"info"`
	}
	if err := json.Unmarshal(body, &api); err != nil {
		return nil, "", fmt.Errorf("service documentation is not a JSON OpenAPI document: %w", err)
	}
	req := api.Info.XSPID.Required
	if len(req) == 0 {
		req = markClaims
	}
	return req, api.Info.XSPID.Lookup, nil
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return strings.TrimSpace(s)
}

func jwksOf(m map[string]any) *jose.JSONWebKeySet {
	v, ok := m["jwks"]
	if !ok {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var set jose.JSONWebKeySet
	if json.Unmarshal(b, &set) != nil {
		return nil
	}
	return &set
}

// encKey picks the first RSA key meant for encryption from the sets in
// order (spec §9.1 [DEC]): use "enc" first, then keys without a use.
func encKey(sets ...*jose.JSONWebKeySet) (jose.JSONWebKey, bool) {
	for _, set := range sets {
		if set == nil {
			continue
		}
		for _, wantUse := range []string{"enc", ""} {
			for _, k := range set.Keys {
				pub, ok := k.Key.(*rsa.PublicKey)
				if !ok || k.Use != wantUse || pub.N.BitLen() < federation.MinRSABits {
					continue
				}
				if k.KeyID == "" {
					if kid, err := federation.Thumbprint(pub); err == nil {
						k.KeyID = kid
					}
				}
				return k, true
			}
		}
	}
	return jose.JSONWebKey{}, false
}
