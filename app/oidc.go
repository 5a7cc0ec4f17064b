package app

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/spid-idp/spid-idp/federation"
	"github.com/spid-idp/spid-idp/internal/fedtest"
	"github.com/spid-idp/spid-idp/keys"
	"github.com/spid-idp/spid-idp/oidc"
	"github.com/spid-idp/spid-idp/templates"
)

// SetupOIDC mounts the OpenID Provider when oidc.enabled; in demo mode
// also the test federation (trust anchor, intermediate, relying parties),
// on the same listener and resolved in process, so nothing leaves the
// machine. Without the OP, oidc.federation.attribute_authorities still
// starts the Attribute Authority registry for SAML.
func (a *App) SetupOIDC(ctx context.Context, pages *templates.Renderer) error {
	cfg := a.Config
	oc := cfg.OIDC
	if !oc.Enabled {
		if oc.AADiscovery() {
			return a.setupAAOnly()
		}
		return nil
	}
	fedKey, err := a.oidcKey(oc.FederationKeyFile)
	if err != nil {
		return fmt.Errorf("oidc.federation_key_file: %w", err)
	}
	fedSigner, err := federation.NewSigner(fedKey, jose.RS256)
	if err != nil {
		return fmt.Errorf("oidc.federation_key_file: %w", err)
	}
	fedKeys := []federation.Signer{fedSigner}
	for i, f := range oc.FederationPublishedKeyFiles {
		k, err := a.oidcKey(f)
		if err != nil {
			return fmt.Errorf("oidc.federation_published_key_files[%d]: %w", i, err)
		}
		s, err := federation.NewSigner(k, jose.RS256)
		if err != nil {
			return fmt.Errorf("oidc.federation_published_key_files[%d]: %w", i, err)
		}
		fedKeys = append(fedKeys, s)
	}
	var core []federation.Signer
	for i, f := range oc.SigningKeyFiles {
		k, err := a.oidcKey(f)
		if err != nil {
			return fmt.Errorf("oidc.signing_key_files[%d]: %w", i, err)
		}
		s, err := federation.NewSigner(k, jose.RS256)
		if err != nil {
			return fmt.Errorf("oidc.signing_key_files[%d]: %w", i, err)
		}
		core = append(core, s)
	}
	entity := &federation.Entity{ID: oc.Issuer, Keys: fedKeys, AuthorityHints: oc.Federation.AuthorityHints}
	fetcher := &federation.Fetcher{}
	var anchors []federation.TrustAnchor
	pairwise := []byte(oc.PairwiseKey)
	if cfg.Demo {
		if anchors, fetcher, err = a.demoFederation(oc.Issuer, entity.JWKS()); err != nil {
			return err
		}
		fed := a.demoFed
		mark, err := fed.OPMark(oc.Issuer)
		if err != nil {
			return err
		}
		entity.TrustMarks = []federation.TrustMarkRef{mark}
		entity.AuthorityHints = []string{fed.TA.ID}
		if len(pairwise) == 0 {
			pairwise = derive32(cfg.Security.DataKey, "oidc-pairwise")
		}
	} else {
		if anchors, err = TrustAnchors(oc.Federation.TrustAnchors); err != nil {
			return err
		}
		if entity.TrustMarks, err = ownTrustMarks(oc.Federation.TrustMarksFile, oc.Issuer, anchors, a); err != nil {
			return err
		}
	}
	resolver := &federation.Resolver{Anchors: anchors, Fetcher: fetcher, CheckStatus: true,
		TrustMarks: map[string][]string{federation.TypeRelyingParty: oc.Federation.RPTrustMarks}}
	a.setupAttributeAuthorities(anchors, fetcher, core, oc.Issuer)
	fe := map[string]any{
		"organization_name": oc.Federation.OrganizationName, "homepage_uri": oc.Federation.HomepageURI,
		"policy_uri": oc.Federation.PolicyURI, "logo_uri": oc.Federation.LogoURI, "contacts": oc.Federation.Contacts,
	}
	p, err := oidc.New(oidc.Options{
		Issuer: oc.Issuer, Entity: entity, FederationEntity: fe, CoreKeys: core, Resolver: resolver,
		AllowHTTP: cfg.Demo, PairwiseKey: pairwise, Store: a.Backends.Store, Eph: a.Backends.Eph,
		Audit: a.Audit, Log: a.Log.With("component", "oidc"), Pages: pages, Flow: a.Flow,
		UseCase: oc.RefreshUseCase, UseCases: useCases(oc.RefreshUseCaseClients), Register: a.RegisterQueue,
	})
	if err != nil {
		return err
	}
	a.OIDC = p
	if !cfg.Demo && len(core) > 0 { // the demo anchor registers our keys itself
		a.oidcKeys = oidcKeyWatch{Anchors: anchors, Fetcher: fetcher, Issuer: oc.Issuer, FedKID: fedSigner.KID, CoreKID: core[0].KID}
	}
	p.Register(a.Mux)
	if a.demoFed != nil {
		// The demo RPs log in through the OP in process, as the RP of the
		// conformance tool would over the network.
		for _, rp := range []*fedtest.RP{a.demoFed.RP1, a.demoFed.RP2} {
			rp.EnableWeb(fedtest.WebOptions{Issuer: oc.Issuer, OPHandler: a.Mux, Claims: demoClaims})
		}
	}
	return nil
}

// demoFederation mounts the test federation (trust anchor, intermediate,
// relying parties, Attribute Authority) and returns the anchors to trust
// and the fetcher that reaches them in process. op, when set, is
// registered under the anchor with its federation keys.
func (a *App) demoFederation(op string, opJWKS jose.JSONWebKeySet) ([]federation.TrustAnchor, *federation.Fetcher, error) {
	cfg := a.Config
	fed, err := fedtest.New(fedtest.Options{Base: cfg.Server.BaseURL, Keys: &fedtest.KeySource{Dir: filepath.Join(cfg.DataDir, "keys", "federation")},
		OP: op, OPJWKS: opJWKS})
	if err != nil {
		return nil, nil, err
	}
	fed.Mount(a.Mux)
	a.demoFed = fed
	// Configured anchors are trusted beside the demo one: so the
	// conformance suite's own anchor (spid-idp conformance --oidc-ta-jwks)
	// can vouch for its relying parties.
	extra, err := TrustAnchors(cfg.OIDC.Federation.TrustAnchors)
	if err != nil {
		return nil, nil, err
	}
	fetcher := &federation.Fetcher{AllowHTTP: true, AllowPrivate: true, Local: a.Mux, LocalBase: cfg.Server.BaseURL}
	return append([]federation.TrustAnchor{fed.Anchor()}, extra...), fetcher, nil
}

// setupAAOnly starts the Attribute Authority registry without the OP
// (oidc.federation.attribute_authorities): SAML's
// spid:RequiredAttributeAuthority needs the federation's AAs, which only
// the trust anchors' list endpoints name, not the OP's keys or endpoints.
// SAML grant tokens are signed with the SAML key.
func (a *App) setupAAOnly() error {
	var anchors []federation.TrustAnchor
	fetcher := &federation.Fetcher{}
	var err error
	if a.Config.Demo {
		anchors, fetcher, err = a.demoFederation("", jose.JSONWebKeySet{})
	} else {
		anchors, err = TrustAnchors(a.Config.OIDC.Federation.TrustAnchors)
	}
	if err != nil {
		return err
	}
	a.setupAttributeAuthorities(anchors, fetcher, nil, "")
	return nil
}

// useCases reads the CLIENT_ID|CUn items (checked by the config validator).
func useCases(items []string) map[string]string {
	out := map[string]string{}
	for _, it := range items {
		if id, uc, ok := strings.Cut(it, "|"); ok {
			out[id] = uc
		}
	}
	return out
}

// oidcKey reads an OIDC key; demo mode makes it on first start.
func (a *App) oidcKey(file string) (*rsa.PrivateKey, error) {
	if a.Config.Demo {
		ks := &fedtest.KeySource{Dir: filepath.Dir(file)}
		return ks.Key(strings.TrimSuffix(filepath.Base(file), ".key"))
	}
	return keys.LoadKey(file)
}

// TrustAnchors reads the ENTITY_ID|JWKS_FILE items of
// oidc.federation.trust_anchors.
func TrustAnchors(items []string) ([]federation.TrustAnchor, error) {
	var out []federation.TrustAnchor
	for i, it := range items {
		id, file, _ := strings.Cut(it, "|")
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("oidc.federation.trust_anchors[%d]: %w", i, err)
		}
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(b, &set); err != nil || len(set.Keys) == 0 {
			return nil, fmt.Errorf("oidc.federation.trust_anchors[%d]: %s is not a JWK set with at least one key", i, file)
		}
		out = append(out, federation.TrustAnchor{EntityID: id, JWKS: set})
	}
	return out, nil
}

// ownTrustMarks loads our trust marks and checks them against the anchor
// that issued them (F008): a bad signature, another subject or a past exp
// stops the start; one expiring within 30 days is logged.
func ownTrustMarks(file, issuer string, anchors []federation.TrustAnchor, a *App) ([]federation.TrustMarkRef, error) {
	if file == "" {
		return nil, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("oidc.federation.trust_marks_file: %w", err)
	}
	var marks []federation.TrustMarkRef
	if err := json.Unmarshal(b, &marks); err != nil {
		return nil, fmt.Errorf("oidc.federation.trust_marks_file: not a JSON array of {id, trust_mark}: %w", err)
	}
	now := time.Now()
	for i, m := range marks {
		peek, err := federation.PeekTrustMark(m.TrustMark)
		if err != nil {
			return nil, fmt.Errorf("oidc.federation.trust_marks_file[%d]: %w", i, err)
		}
		var keys *jose.JSONWebKeySet
		for _, ta := range anchors {
			if ta.EntityID == peek.Issuer {
				keys = &ta.JWKS
			}
		}
		if keys == nil {
			return nil, fmt.Errorf("oidc.federation.trust_marks_file[%d]: issued by %s, not a configured trust anchor", i, peek.Issuer)
		}
		tm, err := federation.VerifyTrustMark(m, issuer, *keys, now)
		if err != nil {
			return nil, fmt.Errorf("oidc.federation.trust_marks_file[%d]: %w", i, err)
		}
		if tm.Expires != 0 && time.Unix(tm.Expires, 0).Before(now.Add(30*24*time.Hour)) {
			a.Log.Warn("trust mark expires within 30 days: ask the trust anchor for a new one", "id", m.ID, "exp", time.Unix(tm.Expires, 0).UTC())
		}
	}
	return marks, nil
}

// demoClaims are what the demo RPs ask for.
var demoClaims = []string{"given_name", "family_name", oidc.ClaimPrefix + "fiscal_number", "email", "birthdate",
	"place_of_birth", oidc.ClaimPrefix + "spid_code"}
