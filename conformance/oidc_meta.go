package conformance

import (
	"context"
	"crypto/rsa"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// judge collects one row per checklist item (worst status wins) for a case
// that checks many items at once.
type judge struct {
	order    []string
	rows     map[string]*Row
	evidence string
}

func newJudge() *judge { return &judge{rows: map[string]*Row{}} }

func (j *judge) row(id string) *Row {
	r, ok := j.rows[id]
	if !ok {
		r = &Row{ID: id, Status: Pass}
		j.rows[id] = r
		j.order = append(j.order, id)
	}
	return r
}

// ok records that item id was checked.
func (j *judge) ok(id string) { j.row(id) }

func (j *judge) set(id string, st Status, format string, args ...any) {
	r := j.row(id)
	msg := fmt.Sprintf(format, args...)
	if st.rank() > r.Status.rank() {
		r.Status = st
	}
	if r.Reason == "" {
		r.Reason = msg
	} else if !strings.Contains(r.Reason, msg) {
		r.Reason += "; " + msg
	}
}

func (j *judge) fail(id, format string, args ...any) { j.set(id, Fail, format, args...) }

// ensure fails id when cond is false.
func (j *judge) ensure(id string, cond bool, format string, args ...any) bool {
	if cond {
		j.ok(id)
		return true
	}
	j.fail(id, format, args...)
	return false
}

func (j *judge) result() []Row {
	out := make([]Row, 0, len(j.order))
	for _, id := range j.order {
		r := *j.rows[id]
		if r.Status == Pass {
			r.Reason = "ok"
		} else {
			r.Evidence = j.evidence
		}
		out = append(out, r)
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out
}

// spidClaims are the 17 claim names of spec §8 (F012).
var spidClaims = []string{
	"https://attributes.eid.gov.it/spid_code", "given_name", "family_name", "place_of_birth", "birthdate", "gender",
	"https://attributes.eid.gov.it/company_name", "https://attributes.eid.gov.it/registered_office", claimFiscal,
	"https://attributes.eid.gov.it/company_fiscal_number", "https://attributes.eid.gov.it/vat_number", "document_details",
	"phone_number", "email", "https://attributes.eid.gov.it/e_delivery_service", "https://attributes.eid.gov.it/eid_exp_date", "address",
}

// forbiddenAlgs may appear in no algorithm list (F013).
var forbiddenAlgs = []string{"none", "HS256", "HS384", "HS512", "RSA_1_5"}

// fetchOPConfig gets the OP entity configuration and judges it (F001–F013).
func (e *oidcEnv) fetchOPConfig(ctx context.Context) (*opConfig, []Row) {
	j := newJudge()
	url := e.opt.Issuer + wellKnownFederation
	res, err := e.back(ctx, http.MethodGet, url, nil, "")
	if err != nil {
		j.fail("F001", "GET %s: %v", url, err)
		return nil, j.result()
	}
	raw := strings.TrimSpace(string(res.body))
	j.evidence = raw
	j.ensure("F001", res.status == http.StatusOK, "HTTP %d", res.status)
	j.ensure("F001", res.header.Get("Content-Type") == mediaEntityStatement, "Content-Type %q, want exactly %q", res.header.Get("Content-Type"), mediaEntityStatement)
	j.ensure("F001", strings.Count(raw, ".") == 2, "body is not a compact JWS")
	h, claims, err := peekJWS(raw)
	if err != nil {
		j.fail("F001", "not a JWS: %v", err)
		return nil, j.result()
	}
	c := &opConfig{raw: raw, claims: claims}
	j.ensure("F002", h.Algorithm == "RS256" || h.Algorithm == "RS512", "alg %q, want RS256 or RS512", h.Algorithm)
	j.ensure("F002", h.KeyID != "", "no kid in the header")
	j.ensure("F002", fmt.Sprint(h.ExtraHeaders["typ"]) == typEntityStatement, "typ %v, want %s", h.ExtraHeaders["typ"], typEntityStatement)

	now := time.Now()
	j.ensure("F003", claimStr(claims, "iss") == e.opt.Issuer && claimStr(claims, "sub") == e.opt.Issuer,
		"iss %q sub %q, want both %q", claimStr(claims, "iss"), claimStr(claims, "sub"), e.opt.Issuer)
	iat, okI := claimInt(claims, "iat")
	exp, okE := claimInt(claims, "exp")
	j.ensure("F003", okI && okE, "iat/exp not integers")
	j.ensure("F003", okI && iat <= now.Add(time.Minute).Unix() && okE && now.Unix() < exp, "not valid now (iat %d, exp %d)", iat, exp)

	fed, err := jwksOf(claims["jwks"])
	if j.ensure("F004", err == nil && len(fed.Keys) > 0, "jwks missing or not a JWK set") {
		for _, k := range fed.Keys {
			rk, isRSA := k.Key.(*rsa.PublicKey)
			j.ensure("F004", k.KeyID != "", "a federation key has no kid")
			j.ensure("F004", isRSA && rk.N.BitLen() >= 2048, "federation key %s is not RSA ≥ 2048", k.KeyID)
		}
		_, _, verr := verifyJWS(raw, fed)
		j.ensure("F004", verr == nil, "the EC does not verify with its own jwks: %v", verr)
	}
	c.fedKeys = fed

	md, _ := claims["metadata"].(map[string]any)
	c.op, _ = md["openid_provider"].(map[string]any)
	c.fe, _ = md["federation_entity"].(map[string]any)
	if c.op == nil {
		j.fail("F010", "metadata.openid_provider missing")
		return nil, j.result()
	}
	core, err := jwksOf(c.op["jwks"])
	if j.ensure("F005", err == nil && len(core.Keys) > 0, "openid_provider.jwks missing") {
		_, _, verr := verifyJWS(raw, core)
		j.ensure("F005", verr == nil, "the EC does not verify with openid_provider.jwks (OPT 1.2.4): %v", verr)
	}
	c.coreKeys = core

	hints := strSlice(claims["authority_hints"])
	j.ensure("F006", len(hints) > 0, "authority_hints missing or empty")
	if e.opt.Production {
		j.ensure("F006", slices.Contains(hints, "https://registry.spid.gov.it") && slices.Contains(hints, "https://registry-test.spid.gov.it"),
			"authority_hints %v lack one of the AgID registries (OPT 1.2.14)", hints)
	}
	e.checkOPMarks(ctx, j, claims, hints)

	fe := c.fe
	if j.ensure("F009", fe != nil, "metadata.federation_entity missing") {
		for _, k := range []string{"organization_name", "homepage_uri", "policy_uri", "logo_uri", "federation_resolve_endpoint"} {
			j.ensure("F009", claimStr(fe, k) != "", "federation_entity.%s missing", k)
		}
		j.ensure("F009", strings.HasSuffix(claimStr(fe, "logo_uri"), ".svg"), "logo_uri %q does not end in .svg", claimStr(fe, "logo_uri"))
		contacts := strSlice(fe["contacts"])
		j.ensure("F009", len(contacts) > 0 && strings.Contains(contacts[0], "@"), "contacts %v: want an array with an e-mail", fe["contacts"])
	}

	op := c.op
	iss := e.opt.Issuer
	wantStr := map[string]string{
		"issuer": iss, "authorization_endpoint": "", "token_endpoint": "", "userinfo_endpoint": "",
		"introspection_endpoint": "", "revocation_endpoint": "",
	}
	for k, want := range wantStr {
		v := claimStr(op, k)
		if want != "" {
			j.ensure("F010", v == want, "%s = %q, want %q", k, v, want)
		} else {
			j.ensure("F010", strings.HasPrefix(v, "https://") || strings.HasPrefix(v, "http://"), "%s missing", k)
		}
	}
	sig := []string{"RS256", "RS512"}
	wantSets := map[string][]string{
		"response_types_supported":                            {"code"},
		"response_modes_supported":                            {"form_post", "query"},
		"grant_types_supported":                               {"authorization_code", "refresh_token"},
		"scopes_supported":                                    {"openid", "offline_access"},
		"subject_types_supported":                             {"pairwise"},
		"id_token_signing_alg_values_supported":               sig,
		"userinfo_signing_alg_values_supported":               sig,
		"request_object_signing_alg_values_supported":         sig,
		"token_endpoint_auth_signing_alg_values_supported":    sig,
		"request_authentication_signing_alg_values_supported": sig,
		"userinfo_encryption_alg_values_supported":            {"RSA-OAEP", "RSA-OAEP-256"},
		"userinfo_encryption_enc_values_supported":            {"A128CBC-HS256", "A256CBC-HS512"},
		"token_endpoint_auth_methods_supported":               {"private_key_jwt"},
		"revocation_endpoint_auth_methods_supported":          {"private_key_jwt"},
		"code_challenge_methods_supported":                    {"S256"},
		"client_registration_types_supported":                 {"automatic"},
	}
	keys := make([]string, 0, len(wantSets))
	for k := range wantSets {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		got := strSlice(op[k])
		j.ensure("F010", sameStrings(got, wantSets[k]), "%s = %v, want %v", k, op[k], wantSets[k])
	}
	acrs := strSlice(op["acr_values_supported"])
	j.ensure("F010", len(acrs) > 0 && allIn(acrs, []string{acrL1, acrL2, acrL3}), "acr_values_supported %v: want a non-empty subset of the SPID levels", op["acr_values_supported"])
	for _, k := range []string{"claims_parameter_supported", "request_parameter_supported", "authorization_response_iss_parameter_supported"} {
		j.ensure("F010", op[k] == true, "%s = %v, want true", k, op[k])
	}
	ram, _ := op["request_authentication_methods_supported"].(map[string]any)
	j.ensure("F010", slices.Contains(strSlice(ram["authorization_endpoint"]), "request_object"),
		"request_authentication_methods_supported = %v, want authorization_endpoint: [request_object]", op["request_authentication_methods_supported"])
	j.ensure("F010", len(core.Keys) > 0, "openid_provider.jwks empty")

	for _, k := range []string{"id_token_encryption_alg_values_supported", "id_token_encryption_enc_values_supported",
		"request_object_encryption_alg_values_supported", "request_object_encryption_enc_values_supported",
		"op_policy_uri", "op_tos_uri", "jwks_uri", "request_uri_parameter_supported"} {
		_, present := op[k]
		j.ensure("F011", !present, "%s is published", k)
	}
	j.ensure("F012", sameStrings(strSlice(op["claims_supported"]), spidClaims), "claims_supported = %v, want exactly the 17 SPID claims", op["claims_supported"])
	for k, v := range op {
		if !strings.Contains(k, "alg_values_supported") && !strings.Contains(k, "enc_values_supported") {
			continue
		}
		for _, a := range strSlice(v) {
			j.ensure("F013", !slices.Contains(forbiddenAlgs, a), "%s lists %s", k, a)
		}
	}
	j.ok("F013")
	return c, j.result()
}

// checkOPMarks finds the OP trust mark of an anchor named in
// authority_hints and verifies it with that anchor's keys (F007).
func (e *oidcEnv) checkOPMarks(ctx context.Context, j *judge, claims map[string]any, hints []string) {
	list, _ := claims["trust_marks"].([]any)
	if !j.ensure("F007", len(list) > 0, "trust_marks missing or empty") {
		return
	}
	found := false
	for _, it := range list {
		m, _ := it.(map[string]any)
		id, jwt := claimStr(m, "id"), claimStr(m, "trust_mark")
		j.ensure("F007", id != "" && jwt != "", "a trust_marks entry lacks id or trust_mark")
		for _, ta := range hints {
			if id != ta+markOP {
				continue
			}
			found = true
			res, err := e.back(ctx, http.MethodGet, ta+wellKnownFederation, nil, "")
			if err != nil || res.status != http.StatusOK {
				j.set("F007", Warn, "cannot fetch the anchor %s to verify the OP trust mark", ta)
				continue
			}
			_, tac, err := peekJWS(strings.TrimSpace(string(res.body)))
			if err != nil {
				j.fail("F007", "anchor %s: entity configuration not a JWS", ta)
				continue
			}
			taKeys, _ := jwksOf(tac["jwks"])
			if _, _, err := verifyJWS(strings.TrimSpace(string(res.body)), taKeys); err != nil {
				j.fail("F007", "anchor %s: entity configuration does not verify with its own keys", ta)
				continue
			}
			h, mc, err := verifyJWS(jwt, taKeys)
			if err != nil {
				j.fail("F007", "OP trust mark does not verify with the anchor %s: %v", ta, err)
				continue
			}
			j.ensure("F007", fmt.Sprint(h.ExtraHeaders["typ"]) == typTrustMark, "trust mark typ %v, want %s", h.ExtraHeaders["typ"], typTrustMark)
			j.ensure("F007", claimStr(mc, "id") == id, "trust mark id %q differs from the wrapper's %q", claimStr(mc, "id"), id)
			j.ensure("F007", claimStr(mc, "sub") == e.opt.Issuer, "trust mark sub %q, want the issuer", claimStr(mc, "sub"))
			j.ensure("F007", claimStr(mc, "iss") == ta, "trust mark iss %q, want %s", claimStr(mc, "iss"), ta)
			if exp, ok := claimInt(mc, "exp"); ok {
				j.ensure("F007", time.Now().Unix() < exp, "trust mark expired")
			}
		}
	}
	j.ensure("F007", found, "no <anchor>%s trust mark for an anchor in authority_hints %v", markOP, hints)
}

func strSlice(v any) []string {
	switch x := v.(type) {
	case []any:
		out := make([]string, 0, len(x))
		for _, it := range x {
			if s, ok := it.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case []string:
		return x
	}
	return nil
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	return allIn(a, b) && allIn(b, a)
}

func allIn(a, set []string) bool {
	for _, x := range a {
		if !slices.Contains(set, x) {
			return false
		}
	}
	return true
}

// keyKID is the kid of the first key (the current core key, F014).
func keyKID(set jose.JSONWebKeySet) string {
	if len(set.Keys) == 0 {
		return ""
	}
	return set.Keys[0].KeyID
}
