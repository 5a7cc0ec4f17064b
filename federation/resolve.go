package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// TrustAnchor is a configured root of trust: its entity id and its pinned
// keys, the only keys its configuration is accepted with (F015).
type TrustAnchor struct {
	EntityID string
	JWKS     jose.JSONWebKeySet
}

// Defaults of the resolver (spec §2.3, §10).
const (
	DefaultMaxHints = 2
	// maxDepth bounds the climb whatever a trust anchor's constraints say.
	maxDepth = 4
	// anchorRefresh: members re-read the federation configuration at
	// least daily (TR-la_federazione_delle_identita).
	anchorRefresh = 24 * time.Hour
	// forcedRefreshEvery limits re-resolutions a signature failure asks
	// for (F026).
	forcedRefreshEvery = 5 * time.Minute
)

// Resolver builds and caches trust chains.
type Resolver struct {
	Anchors []TrustAnchor
	Fetcher *Fetcher
	// TrustMarks lists, per entity type, the trust mark ids (suffixes
	// after the anchor's entity id, e.g. "/openid_relying_party/public/")
	// of which a leaf must hold one valid mark before anything else is
	// fetched (F016). A type absent here needs none.
	TrustMarks map[string][]string
	// CheckStatus asks each mark's issuer whether the mark is still
	// active when a chain is (re)built (F030).
	CheckStatus bool
	// MaxHints authority hints are followed per statement (F021).
	MaxHints int
	Now      func() time.Time

	mu      sync.Mutex
	chains  map[string]*Chain
	anchors map[string]*Statement
	forced  map[string]time.Time
}

// Chain is a resolved trust chain and what it says about its leaf.
type Chain struct {
	Subject    string
	EntityType string
	Anchor     string
	// Statements: leaf configuration, subordinate statements upwards, the
	// anchor's configuration (the trust_chain of a resolve answer).
	Statements []*Statement
	// Metadata is the leaf's metadata for EntityType after the merged
	// policy (F022).
	Metadata map[string]any
	// FederationEntity is the leaf's federation_entity metadata as it
	// published it (informational, never validated: spec §2.6).
	FederationEntity map[string]any
	TrustMarks       []TrustMarkRef
	Expires          time.Time
}

// Leaf is the subject's own entity configuration.
func (c *Chain) Leaf() *Statement { return c.Statements[0] }

// Serialized is the trust_chain claim: the compact statements in order.
func (c *Chain) Serialized() []string {
	out := make([]string, len(c.Statements))
	for i, s := range c.Statements {
		out[i] = s.Raw
	}
	return out
}

func (r *Resolver) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Resolver) maxHints() int {
	if r.MaxHints > 0 {
		return r.MaxHints
	}
	return DefaultMaxHints
}

func cacheKey(subject, entityType string) string { return entityType + " " + subject }

// Cached returns a valid cached chain without fetching anything (the
// resolve endpoint must not start a discovery, F031).
func (r *Resolver) Cached(subject, entityType string) (*Chain, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.chains[cacheKey(subject, entityType)]
	if !ok || !r.now().Before(c.Expires) {
		return nil, false
	}
	return c, true
}

// Resolve returns the chain of subject as entityType, from the cache while
// it is valid (F025). Errors are *Error with the code to answer.
func (r *Resolver) Resolve(ctx context.Context, subject, entityType string) (*Chain, error) {
	if c, ok := r.Cached(subject, entityType); ok {
		return c, nil
	}
	return r.resolve(ctx, subject, entityType)
}

// Refresh re-resolves subject once a signature made with its keys failed
// (its keys may have rotated), at most every five minutes per subject;
// ok is false when the limit held it back.
func (r *Resolver) Refresh(ctx context.Context, subject, entityType string) (c *Chain, ok bool, err error) {
	key := cacheKey(subject, entityType)
	r.mu.Lock()
	last, seen := r.forced[key]
	if seen && r.now().Sub(last) < forcedRefreshEvery {
		r.mu.Unlock()
		return nil, false, nil
	}
	if r.forced == nil {
		r.forced = map[string]time.Time{}
	}
	r.forced[key] = r.now()
	r.mu.Unlock()
	c, err = r.resolve(ctx, subject, entityType)
	if err != nil {
		// What failed to re-verify is not trusted any longer.
		r.mu.Lock()
		delete(r.chains, key)
		r.mu.Unlock()
	}
	return c, true, err
}

func (r *Resolver) resolve(ctx context.Context, subject, entityType string) (*Chain, error) {
	now := r.now()
	if _, err := r.Fetcher.CheckURL(subject); err != nil {
		// Not an entity id we may contact: the subject is wrong, not away.
		return nil, NewError(CodeInvalidClient, "the subject is not an acceptable entity id", err)
	}
	leaf, err := r.entityConfiguration(ctx, subject)
	if err != nil {
		var se *StatusError
		if errors.As(err, &se) && se.Status >= 400 && se.Status < 500 {
			// A definite answer: there is no such entity there.
			return nil, NewError(CodeInvalidClient, "the subject publishes no entity configuration", err)
		}
		if errors.Is(err, ErrUnreachable) {
			return nil, NewError(CodeTemporarilyUnavailable, "entity configuration of the subject cannot be fetched", err)
		}
		return nil, NewError(CodeInvalidClient, "entity configuration of the subject is not valid", err)
	}
	// Trust marks come first: an entity without one never makes us
	// contact the authorities it names (F016, TR-seccons_bcps).
	marks, markExp, err := r.checkTrustMarks(ctx, leaf, entityType)
	if err != nil {
		return nil, err
	}
	path, anchor, err := r.climb(ctx, leaf, 0, map[string]bool{subject: true})
	if err != nil {
		var fe *Error
		if errors.As(err, &fe) {
			return nil, fe
		}
		return nil, NewError(CodeInvalidClient, "no trust chain to a trust anchor", err)
	}
	statements := append([]*Statement{leaf}, path...)
	intermediates := len(path) - 2 // ES about the leaf and the anchor EC are not intermediates
	if mpl := anchorMaxPath(path); mpl != nil && intermediates > *mpl {
		return nil, NewError(CodeInvalidClient, "trust chain longer than the trust anchor allows",
			fmt.Errorf("%d intermediates, max_path_length %d", intermediates, *mpl))
	}
	// Merge the policies top-down: the anchor's statement first.
	var policies []Policy
	for i := len(path) - 2; i >= 0; i-- {
		if p := path[i].MetadataPolicy[entityType]; p != nil {
			policies = append(policies, Policy(p))
		}
	}
	merged, err := MergePolicies(policies...)
	if err != nil {
		return nil, NewError(CodeUnauthorizedClient, "metadata policy of the federation cannot be applied", err)
	}
	own := leaf.Metadata[entityType]
	if own == nil {
		return nil, NewError(CodeUnauthorizedClient, "the subject publishes no metadata for "+entityType, nil)
	}
	final, err := ApplyPolicy(own, merged)
	if err != nil {
		return nil, NewError(CodeUnauthorizedClient, "metadata violates the federation policy", err)
	}
	exp := markExp
	for _, s := range statements {
		if exp.IsZero() || s.ExpiresAt().Before(exp) {
			exp = s.ExpiresAt()
		}
	}
	c := &Chain{Subject: subject, EntityType: entityType, Anchor: anchor, Statements: statements,
		Metadata: final, FederationEntity: leaf.Metadata[TypeFederationEntity], TrustMarks: marks, Expires: exp}
	if !now.Before(exp) {
		return nil, NewError(CodeInvalidClient, "trust chain already expired", nil)
	}
	r.mu.Lock()
	if r.chains == nil {
		r.chains = map[string]*Chain{}
	}
	r.chains[cacheKey(subject, entityType)] = c
	r.mu.Unlock()
	return c, nil
}

func anchorMaxPath(path []*Statement) *int {
	ta := path[len(path)-1]
	if ta.Constraints != nil {
		return ta.Constraints.MaxPathLength
	}
	return nil
}

// entityConfiguration fetches and self-verifies the configuration of id.
func (r *Resolver) entityConfiguration(ctx context.Context, id string) (*Statement, error) {
	body, err := r.Fetcher.Get(ctx, EntityConfigurationURL(id))
	if err != nil {
		return nil, err
	}
	s, err := ParseStatement(strings.TrimSpace(string(body)), nil, r.now())
	if err != nil {
		return nil, err
	}
	if s.Issuer != id || s.Subject != id {
		return nil, fmt.Errorf("%w: %s (iss %q, sub %q)", errSelf, clip(id), clip(s.Issuer), clip(s.Subject))
	}
	return s, nil
}

func (r *Resolver) anchorFor(id string) (TrustAnchor, bool) {
	for _, a := range r.Anchors {
		if a.EntityID == id {
			return a, true
		}
	}
	return TrustAnchor{}, false
}

// anchorConfiguration is the anchor's configuration, verified with its
// pinned keys only and kept until it expires or a day passes.
func (r *Resolver) anchorConfiguration(ctx context.Context, ta TrustAnchor) (*Statement, error) {
	now := r.now()
	r.mu.Lock()
	s, ok := r.anchors[ta.EntityID]
	r.mu.Unlock()
	if ok && now.Before(s.ExpiresAt()) && now.Sub(time.Unix(s.IssuedAt, 0)) < anchorRefresh {
		return s, nil
	}
	body, err := r.Fetcher.Get(ctx, EntityConfigurationURL(ta.EntityID))
	if err != nil {
		if ok && now.Before(s.ExpiresAt()) {
			return s, nil // keep the last good copy while it is valid
		}
		return nil, err
	}
	s, err = ParseStatement(strings.TrimSpace(string(body)), &ta.JWKS, now)
	if err != nil {
		return nil, fmt.Errorf("trust anchor %s: %w", ta.EntityID, err)
	}
	if s.Issuer != ta.EntityID || s.Subject != ta.EntityID {
		return nil, fmt.Errorf("trust anchor %s: %w", ta.EntityID, errSelf)
	}
	r.mu.Lock()
	if r.anchors == nil {
		r.anchors = map[string]*Statement{}
	}
	r.anchors[ta.EntityID] = s
	r.mu.Unlock()
	return s, nil
}

// climb returns the statements above ec up to an anchor: the subordinate
// statement about ec, those about each intermediate, and the anchor's
// configuration. Anchors among the hints are tried before any
// intermediate (shortest path first, TR-seccons_bcps).
func (r *Resolver) climb(ctx context.Context, ec *Statement, depth int, seen map[string]bool) ([]*Statement, string, error) {
	hints := ec.AuthorityHints
	if len(hints) > r.maxHints() {
		hints = hints[:r.maxHints()]
	}
	if len(hints) == 0 {
		return nil, "", fmt.Errorf("%s names no authority", clip(ec.Subject))
	}
	var errs []error
	for _, h := range hints {
		ta, ok := r.anchorFor(h)
		if !ok {
			continue
		}
		taEC, err := r.anchorConfiguration(ctx, ta)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		es, err := r.subordinate(ctx, taEC, ec)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		return []*Statement{es, taEC}, ta.EntityID, nil
	}
	if depth+1 >= maxDepth {
		return nil, "", errors.Join(append(errs, errors.New("trust chain too long"))...)
	}
	for _, h := range hints {
		if _, ok := r.anchorFor(h); ok || seen[h] {
			continue
		}
		sup, err := r.entityConfiguration(ctx, h)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		es, err := r.subordinate(ctx, sup, ec)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		seen[h] = true
		rest, anchor, err := r.climb(ctx, sup, depth+1, seen)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		return append([]*Statement{es}, rest...), anchor, nil
	}
	if len(errs) == 0 {
		errs = append(errs, fmt.Errorf("no configured trust anchor above %s", clip(ec.Subject)))
	}
	return nil, "", errors.Join(errs...)
}

// subordinate fetches what sup says about ec, verified with sup's keys,
// and checks that ec is signed by a key sup vouches for (F019).
func (r *Resolver) subordinate(ctx context.Context, sup, ec *Statement) (*Statement, error) {
	es, err := r.statementOf(ctx, sup, ec.Subject)
	if err != nil {
		return nil, err
	}
	if _, err := Verify(ec.Raw, es.JWKS); err != nil {
		return nil, refused("configuration of %s is not signed by a key its superior %s lists: %v", clip(ec.Subject), clip(sup.Subject), err)
	}
	return es, nil
}

// StatementAbout is the subordinate statement the trust anchor anchor
// (one of r.Anchors) publishes about subject, verified with the anchor's
// pinned keys. The OP's own key rotation waits for it to carry a new key
// (spec §2.8): spid-idp keys oidc-show --anchors reads it.
func (r *Resolver) StatementAbout(ctx context.Context, anchor, subject string) (*Statement, error) {
	ta, ok := r.anchorFor(anchor)
	if !ok {
		return nil, fmt.Errorf("%s is not a configured trust anchor", clip(anchor))
	}
	sup, err := r.anchorConfiguration(ctx, ta)
	if err != nil {
		return nil, err
	}
	return r.statementOf(ctx, sup, subject)
}

// statementOf fetches what sup says about subject, verified with sup's keys.
func (r *Resolver) statementOf(ctx context.Context, sup *Statement, subject string) (*Statement, error) {
	endpoint, _ := sup.Metadata[TypeFederationEntity]["federation_fetch_endpoint"].(string)
	if endpoint == "" {
		return nil, fmt.Errorf("%s publishes no federation_fetch_endpoint", clip(sup.Subject))
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("federation_fetch_endpoint of %s: %w", clip(sup.Subject), err)
	}
	q := u.Query()
	q.Set("sub", subject)
	u.RawQuery = q.Encode()
	body, err := r.Fetcher.Get(ctx, u.String())
	if err != nil {
		return nil, err
	}
	es, err := ParseStatement(strings.TrimSpace(string(body)), &sup.JWKS, r.now())
	if err != nil {
		return nil, fmt.Errorf("statement of %s about %s: %w", clip(sup.Subject), clip(subject), err)
	}
	if es.Issuer != sup.Subject || es.Subject != subject {
		return nil, refused("statement of %s is about %q issued by %q", clip(sup.Subject), clip(es.Subject), clip(es.Issuer))
	}
	return es, nil
}

// checkTrustMarks finds the leaf's valid marks among those its type needs
// (F016–F018): the id must be allowed, the issuer the anchor or one the
// anchor lists for that id, the signature, subject and dates right. It
// returns the valid marks and the earliest expiry among them.
func (r *Resolver) checkTrustMarks(ctx context.Context, leaf *Statement, entityType string) ([]TrustMarkRef, time.Time, error) {
	suffixes, needed := r.TrustMarks[entityType]
	if !needed {
		return nil, time.Time{}, nil
	}
	now := r.now()
	var valid []TrustMarkRef
	var exp time.Time
	var reasons []error
	for _, ref := range leaf.TrustMarks {
		ta, ok := r.anchorOfMark(ref.ID, suffixes)
		if !ok {
			continue
		}
		m, err := r.verifyMark(ctx, ta, ref, leaf.Subject, now)
		if err != nil {
			reasons = append(reasons, err)
			continue
		}
		valid = append(valid, ref)
		if m.Expires != 0 {
			if t := time.Unix(m.Expires, 0); exp.IsZero() || t.Before(exp) {
				exp = t
			}
		}
	}
	if len(valid) == 0 {
		return nil, time.Time{}, NewError(CodeUnauthorizedClient, "the subject holds no valid trust mark of the federation",
			errors.Join(append(reasons, errors.New("no valid trust mark"))...))
	}
	return valid, exp, nil
}

func (r *Resolver) anchorOfMark(id string, suffixes []string) (TrustAnchor, bool) {
	for _, ta := range r.Anchors {
		for _, s := range suffixes {
			if id == strings.TrimRight(ta.EntityID, "/")+s {
				return ta, true
			}
		}
	}
	return TrustAnchor{}, false
}

func (r *Resolver) verifyMark(ctx context.Context, ta TrustAnchor, ref TrustMarkRef, subject string, now time.Time) (TrustMark, error) {
	peek, err := PeekTrustMark(ref.TrustMark)
	if err != nil {
		return TrustMark{}, err
	}
	if peek.Issuer == ta.EntityID {
		m, err := VerifyTrustMark(ref, subject, ta.JWKS, now)
		if err != nil || !r.CheckStatus {
			return m, err
		}
		taEC, err := r.anchorConfiguration(ctx, ta)
		if err != nil {
			return TrustMark{}, err
		}
		return m, r.markStatus(ctx, taEC, ref, subject)
	}
	taEC, err := r.anchorConfiguration(ctx, ta)
	if err != nil {
		return TrustMark{}, err
	}
	if !slices.Contains(taEC.TrustMarkIssuers[ref.ID], peek.Issuer) {
		return TrustMark{}, refused("trust mark %s issued by %s, whom the trust anchor does not list", clip(ref.ID), clip(peek.Issuer))
	}
	// The issuer's keys are those the anchor vouches for in its statement
	// about the issuer.
	issuer, err := r.entityConfiguration(ctx, peek.Issuer)
	if err != nil {
		return TrustMark{}, err
	}
	es, err := r.subordinate(ctx, taEC, issuer)
	if err != nil {
		return TrustMark{}, err
	}
	m, err := VerifyTrustMark(ref, subject, es.JWKS, now)
	if err != nil || !r.CheckStatus {
		return m, err
	}
	return m, r.markStatus(ctx, issuer, ref, subject)
}

// markStatus asks the issuer's status endpoint about a mark; an issuer
// without one is taken at its signature.
func (r *Resolver) markStatus(ctx context.Context, issuer *Statement, ref TrustMarkRef, subject string) error {
	endpoint, _ := issuer.Metadata[TypeFederationEntity]["federation_trust_mark_status_endpoint"].(string)
	if endpoint == "" {
		return nil
	}
	body, err := r.Fetcher.PostForm(ctx, endpoint, url.Values{"id": {ref.ID}, "sub": {subject}})
	if err != nil {
		return err
	}
	var st struct {
		Active *bool `json:"active"`
	}
	if err := json.Unmarshal(body, &st); err != nil || st.Active == nil {
		return refused("trust mark status of %s: no active member in the answer", clip(ref.ID))
	}
	if !*st.Active {
		return refused("trust mark %s is no longer active for %s", clip(ref.ID), clip(subject))
	}
	return nil
}
