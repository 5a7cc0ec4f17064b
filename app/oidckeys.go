package app

import (
	"context"
	"fmt"
	"time"

	"github.com/spid-idp/spid-idp/federation"
)

// OIDCKeyWatch is how often a node compares the keys its OP signs with
// against the trust anchors' statements about it.
const OIDCKeyWatch = time.Hour

// oidcKeyWatch names the OP's signing keys (RFC 7638 thumbprints) and the
// anchors whose statements must carry them.
type oidcKeyWatch struct {
	Anchors []federation.TrustAnchor
	Fetcher *federation.Fetcher
	Issuer  string
	FedKID  string // signs the entity configuration
	CoreKID string // signs tokens and userinfo
}

// WatchOIDCKeys checks at start and then every `every` that each trust
// anchor's statement about the OP carries the keys this node signs with
// (spec §2.8), and logs an error naming key and anchor while one does not:
// relying parties resolving through that anchor reject what the key
// signs. The rotation is the operator's (spid-idp keys oidc-show
// --anchors before each step); this catches a step taken too early, on
// any node, or an anchor that dropped a key. It returns when ctx ends.
func (a *App) WatchOIDCKeys(ctx context.Context, every time.Duration) {
	if a.oidcKeys.Issuer == "" {
		return
	}
	for {
		for _, p := range a.oidcKeys.problems(ctx) {
			a.Log.ErrorContext(ctx, "OIDC signing key not in the trust anchor's statement about us", "problem", p)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// problems are the signing keys an anchor does not carry, and the anchors
// whose statement about us could not be read.
func (w oidcKeyWatch) problems(ctx context.Context) []string {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res := &federation.Resolver{Anchors: w.Anchors, Fetcher: w.Fetcher}
	var out []string
	for _, ta := range w.Anchors {
		es, err := res.StatementAbout(ctx, ta.EntityID, w.Issuer)
		if err != nil {
			out = append(out, fmt.Sprintf("trust anchor %s: no statement about %s: %v", ta.EntityID, w.Issuer, err))
			continue
		}
		if federation.Carried(es, w.FedKID, false) == federation.KeyMissing {
			out = append(out, fmt.Sprintf("trust anchor %s does not carry the federation key %s (oidc.federation_key_file) that signs our entity configuration", ta.EntityID, w.FedKID))
		}
		if federation.Carried(es, w.CoreKID, true) == federation.KeyMissing {
			out = append(out, fmt.Sprintf("trust anchor %s pins openid_provider.jwks without the core key %s (first of oidc.signing_key_files) that signs tokens", ta.EntityID, w.CoreKID))
		}
	}
	return out
}
