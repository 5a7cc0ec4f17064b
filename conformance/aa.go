package conformance

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/beevik/etree"
	"github.com/go-jose/go-jose/v4"
)

// Attribute Authority cases (spec §9, checklist A004–A033; AgID's SAML
// tool cases AA1–AA7). The IdP's AA registry is not visible to an SP, so
// the suite is told one AA entity id (Options.AAEntityID) and, to open the
// grant tokens, that AA's decryption key (Options.AAKey).

func init() {
	for id, t := range map[string]string{
		"A004": "RequiredAttributeAuthorities (wrong name) → normal login (AA1)",
		"A005": "RequiredAttributeAuthority without Location → normal login (AA2)",
		"A006": "only empty Locations → normal login (AA3)",
		"A007": "no Location in the AA registry → normal login (AA4)",
		"A008": "a valid Location among empty ones is offered",
		"A009": "unusable AA requests cause no anomaly",
		"A011": "AA choice after authentication, before the Response",
		"A014": "AAs individually selectable, none preselected, none allowed",
		"A015": "AA consent asked; refusal continues without grant (AA5)",
		"A016": "no AA consent when none is chosen (AA6)",
		"A018": "Response Extensions between ds:Signature and Status",
		"A019": "exactly one spid:GrantedAttributeAuthority",
		"A020": "one unqualified GrantToken per AA, Destination = AA id",
		"A021": "a Response with grants passes every ordinary check",
		"A022": "no Extensions without a consented AA",
		"A023": "grant JWE alg/enc/typ/kid, decrypts with the AA key",
		"A024": "grant payload is a JWS RS256/RS512 with kid",
		"A025": "grant JWS verifies with the IdP's published key",
		"A026": "grant iss = IdP entityID / OP issuer",
		"A027": "grant aud = AA entity id",
		"A028": "grant sid = saml:Response ID / oidc:ID Token jti",
		"A029": "grant acr = level delivered",
		"A030": "grant iat ≤ now, nbf = iat, exp after iat",
		"A032": "grant act.sub = SP entityID / client_id",
		"A033": "grant jti is a uuid4",
		"A035": "OIDC authorization_details with the AA → selection",
		"A036": "authorization_details without locations → normal login, no tokens",
		"A037": "ID token tokens: one grant token per consented AA",
		"A038": "grant introspection: active for its RP, inactive for others",
		"A039": "an expired or revoked grant token introspects inactive",
		"A040": "the RP that received a grant token revokes it",
	} {
		checklistTitles[id] = t
	}
}

// unlistedAA is an AA entity id no registry lists.
const unlistedAA = "https://aa.conformance.invalid"

// requiredAA builds the request extension; name is the element's local
// name (the right one is RequiredAttributeAuthority), locations its
// unqualified Location children (none when nil).
func requiredAA(name string, locations ...string) func(*etree.Element) {
	return func(r *etree.Element) {
		x := etree.NewElement("samlp:Extensions")
		el := x.CreateElement("spid:" + name)
		el.CreateAttr("xmlns:spid", nsSPID)
		for _, l := range locations {
			el.CreateElement("Location").SetText(l)
		}
		insertAfter(r, "Issuer", x)
	}
}

// aaLogin runs one login with the AA extension and the user's AA answer;
// it returns the login result, the Response root (nil if none) and the
// rows of the ordinary Response checks that failed (an AA request must
// leave the rest of the Response unchanged: A021).
func (e *env) aaLogin(ctx context.Context, ext func(*etree.Element), ans *aaAnswer) (*loginResult, *etree.Element, []Row) {
	b := e.browser()
	b.aa = ans
	lr, rows := e.login(ctx, b, e.spA, authnSpec{Mutate: ext}, e.spA.ACS[0])
	var bad []Row
	for _, r := range rows {
		if r.Status != Pass {
			bad = append(bad, r)
		}
	}
	if lr == nil || lr.out == nil || lr.out.Form == nil {
		return lr, nil, bad
	}
	raw, err := base64.StdEncoding.DecodeString(lr.out.Form.value("SAMLResponse"))
	if err != nil {
		return lr, nil, bad
	}
	doc, err := parseXML(raw)
	if err != nil {
		return lr, nil, bad
	}
	return lr, doc.Root(), bad
}

// aaNoSelectionCase is SSC AA1–AA4: the request is served as if no AA had
// been asked (A004–A007), without anomaly (A009), and the Response has no
// Extensions (A022).
func aaNoSelectionCase(name, id, title string, ext func(e *env) func(*etree.Element)) caseDef {
	return caseDef{name: name, ids: []string{id, "A009", "A022"}, title: title, run: func(ctx context.Context, e *env) []Row {
		if st, why, ok := e.needLogin(); !ok {
			return rowsFor([]string{id, "A009", "A022"}, st, why, nil)
		}
		lr, root, bad := e.aaLogin(ctx, ext(e), nil)
		if root == nil || !lr.ok {
			reason := "no successful Response"
			if len(bad) > 0 {
				reason = bad[0].ID + ": " + bad[0].Reason
			}
			var o *outcome
			if lr != nil {
				o = lr.out
			}
			return rowsFor([]string{id, "A009"}, Fail, reason+" (the request must be served normally)", o)
		}
		rows := []Row{{ID: "A009", Status: Pass, Reason: "served normally, no anomaly"}}
		if lr.out.SawAAChoice {
			rows = append(rows, rowsFor([]string{id}, Fail, fmt.Sprintf("an AA choice page was shown (offered %v)", lr.out.AAOffered), lr.out)...)
		} else {
			rows = append(rows, Row{ID: id, Status: Pass, Reason: "no AA choice page"})
		}
		rows = append(rows, noGrantRow(root, lr.out))
		return rows
	}}
}

// noGrantRow is A022: no Extensions in a Response without consented AA.
func noGrantRow(root *etree.Element, o *outcome) Row {
	if x := root.SelectElement("Extensions"); x != nil {
		r := rowsFor([]string{"A022"}, Fail, "the Response has samlp:Extensions although no AA was consented", o)[0]
		return r
	}
	return Row{ID: "A022", Status: Pass, Reason: "no Extensions in the Response"}
}

// needAA skips the cases that need an AA of the IdP's registry.
func (e *env) needAA(ids ...string) ([]Row, bool) {
	if st, why, ok := e.needLogin(); !ok {
		return rowsFor(ids, st, why, nil), false
	}
	if e.opt.AAEntityID == "" {
		return rowsFor(ids, Skip, "not checked: no AA entity id given (--aa-entity-id)", nil), false
	}
	return nil, true
}

// offeredRows checks the choice page offered the AA (A008, A011).
func (e *env) offeredRows(o *outcome) []Row {
	if !o.SawAAChoice {
		return rowsFor([]string{"A008", "A011"}, Fail, "no AA choice page (checkboxes name=\"aa\") after authentication", o)
	}
	for _, v := range o.AAOffered {
		if v == e.opt.AAEntityID {
			return []Row{{ID: "A008", Status: Pass, Reason: "the requested AA is offered"}, {ID: "A011", Status: Pass, Reason: "choice page after authentication, before the Response"}}
		}
	}
	return rowsFor([]string{"A008"}, Fail, fmt.Sprintf("the choice page offers %v, not %s", o.AAOffered, e.opt.AAEntityID), o)
}

func aaCases() []caseDef {
	return []caseDef{
		aaNoSelectionCase("aa-1-wrong-name", "A004", "AA1: RequiredAttributeAuthorities (wrong name) → normal login, no Extensions", func(e *env) func(*etree.Element) {
			return requiredAA("RequiredAttributeAuthorities", or(e.opt.AAEntityID, unlistedAA))
		}),
		aaNoSelectionCase("aa-2-no-location", "A005", "AA2: RequiredAttributeAuthority without Location → normal login, no Extensions", func(*env) func(*etree.Element) {
			return requiredAA("RequiredAttributeAuthority")
		}),
		aaNoSelectionCase("aa-3-empty-locations", "A006", "AA3: only empty Locations → normal login, no Extensions", func(*env) func(*etree.Element) {
			return requiredAA("RequiredAttributeAuthority", "", "  ")
		}),
		aaNoSelectionCase("aa-4-unlisted", "A007", "AA4: Location not in the AA registry → normal login, no Extensions", func(*env) func(*etree.Element) {
			return requiredAA("RequiredAttributeAuthority", unlistedAA)
		}),
		{name: "aa-5-refused", ids: []string{"A015", "A022"}, title: "AA5: AA chosen, consent refused → Response without grant", run: func(ctx context.Context, e *env) []Row {
			if rows, ok := e.needAA("A015", "A022"); !ok {
				return rows
			}
			lr, root, bad := e.aaLogin(ctx, requiredAA("RequiredAttributeAuthority", e.opt.AAEntityID), &aaAnswer{pick: []string{e.opt.AAEntityID}, refuse: true})
			if root == nil || !lr.ok {
				return e.aaNoResponse(lr, bad, "A015")
			}
			rows := e.offeredRows(lr.out)
			if lr.out.SawAAConsent {
				rows = append(rows, Row{ID: "A015", Status: Pass, Reason: "AA consent asked; refused, the login went on"})
			} else {
				rows = append(rows, rowsFor([]string{"A015"}, Fail, "no AA consent page after choosing an AA", lr.out)...)
			}
			return append(rows, noGrantRow(root, lr.out))
		}},
		{name: "aa-6-none-chosen", ids: []string{"A008", "A014", "A016", "A022"}, title: "AA6: one valid Location among empty ones, none chosen → no AA consent, no grant", run: func(ctx context.Context, e *env) []Row {
			if rows, ok := e.needAA("A008", "A014", "A016", "A022"); !ok {
				return rows
			}
			lr, root, bad := e.aaLogin(ctx, requiredAA("RequiredAttributeAuthority", "", e.opt.AAEntityID, " "), &aaAnswer{})
			if root == nil || !lr.ok {
				return e.aaNoResponse(lr, bad, "A014")
			}
			rows := e.offeredRows(lr.out)
			if lr.out.SawAAChoice && strings.Contains(strings.ToLower(string(aaCheckboxTags(lr.out.AAChoicePage))), "checked") {
				rows = append(rows, rowsFor([]string{"A014"}, Fail, "an AA is preselected on the choice page", lr.out)...)
			} else if lr.out.SawAAChoice {
				rows = append(rows, Row{ID: "A014", Status: Pass, Reason: "continued with no AA selected"})
			}
			if lr.out.SawAAConsent {
				rows = append(rows, rowsFor([]string{"A016"}, Fail, "AA consent asked although no AA was chosen", lr.out)...)
			} else {
				rows = append(rows, Row{ID: "A016", Status: Pass, Reason: "no AA consent with none chosen"})
			}
			return append(rows, noGrantRow(root, lr.out))
		}},
		{name: "aa-8-choice-page", ids: []string{"A010", "A012", "A013", "A017", "A022"}, title: "AA named by a qualified padded and an unqualified Location: offered once, logo, name and image policy of the choice page", run: aaPageCase},
		{name: "aa-7-granted", ids: aaGrantIDs, title: "AA7: AA chosen and authorised → GrantedAttributeAuthority with a grant token for it", run: aaGrantedCase},
	}
}

var aaGrantIDs = []string{"A018", "A019", "A020", "A021", "A023", "A024", "A025", "A026", "A027", "A028", "A029", "A030", "A031", "A032", "A033", "A034"}

// aaCheckboxTags returns the <input …> tags of the AA checkboxes.
func aaCheckboxTags(page []byte) []byte {
	var out []byte
	for _, m := range regexp.MustCompile(`(?is)<input\b[^>]*name="aa"[^>]*>`).FindAll(page, -1) {
		out = append(out, m...)
	}
	return out
}

func (e *env) aaNoResponse(lr *loginResult, bad []Row, id string) []Row {
	reason := "no successful Response"
	if len(bad) > 0 {
		reason = bad[0].ID + ": " + bad[0].Reason
	}
	var o *outcome
	if lr != nil {
		o = lr.out
	}
	return rowsFor([]string{id}, Fail, reason, o)
}

func aaGrantedCase(ctx context.Context, e *env) []Row {
	if rows, ok := e.needAA(aaGrantIDs...); !ok {
		return rows
	}
	aa := e.opt.AAEntityID
	lr, root, bad := e.aaLogin(ctx, requiredAA("RequiredAttributeAuthority", aa, aa, unlistedAA), &aaAnswer{pick: []string{aa}})
	if root == nil {
		return e.aaNoResponse(lr, bad, "A021")
	}
	o := lr.out
	fail := func(id, why string) Row { return rowsFor([]string{id}, Fail, why, o)[0] }
	pass := func(id, why string) Row { return Row{ID: id, Status: Pass, Reason: why} }
	var rows []Row
	rows = append(rows, e.offeredRows(o)...)
	// A021: the rest of the success Response is unchanged and signed.
	if len(bad) > 0 || !lr.ok {
		why := "the Response fails the ordinary checks"
		if len(bad) > 0 {
			why = bad[0].ID + ": " + bad[0].Reason
		}
		rows = append(rows, fail("A021", why))
	} else {
		rows = append(rows, pass("A021", "signed success Response passing every ordinary check"))
	}
	// A018: Extensions right after ds:Signature, before Status.
	var tags []string
	for _, c := range root.ChildElements() {
		tags = append(tags, c.Tag)
	}
	ext := root.SelectElement("Extensions")
	order := strings.Join(tags, " ")
	switch {
	case ext == nil:
		rows = append(rows, fail("A018", "no samlp:Extensions in the Response after the AA was authorised"))
		return rows
	case ext.NamespaceURI() != nsSAMLP:
		rows = append(rows, fail("A018", "Extensions in namespace "+ext.NamespaceURI()))
	case !strings.Contains(order, "Signature Extensions Status"):
		rows = append(rows, fail("A018", "Response children in order "+order+", want Extensions between Signature and Status"))
	default:
		rows = append(rows, pass("A018", "Extensions between ds:Signature and samlp:Status"))
	}
	// A019: exactly one GrantedAttributeAuthority in the spid namespace.
	var granted []*etree.Element
	for _, c := range ext.ChildElements() {
		if c.Tag == "GrantedAttributeAuthority" {
			granted = append(granted, c)
		}
	}
	if len(granted) != 1 || granted[0].NamespaceURI() != nsSPID {
		ns := ""
		if len(granted) > 0 {
			ns = granted[0].NamespaceURI()
		}
		rows = append(rows, fail("A019", fmt.Sprintf("%d GrantedAttributeAuthority elements (namespace %q), want exactly one in %s", len(granted), ns, nsSPID)))
		return rows
	}
	rows = append(rows, pass("A019", "one spid:GrantedAttributeAuthority"))
	// A020: one unqualified GrantToken for the AA, non-empty.
	var tokens []*etree.Element
	for _, c := range granted[0].ChildElements() {
		if c.Tag == "GrantToken" {
			tokens = append(tokens, c)
		}
	}
	var jwe string
	switch {
	case len(tokens) != 1:
		rows = append(rows, fail("A020", fmt.Sprintf("%d GrantToken elements, want one (one AA authorised)", len(tokens))))
	case tokens[0].NamespaceURI() != "":
		rows = append(rows, fail("A020", "GrantToken is qualified (namespace "+tokens[0].NamespaceURI()+"), want unqualified"))
	case tokens[0].SelectAttrValue("Destination", "") != aa:
		rows = append(rows, fail("A020", fmt.Sprintf("GrantToken Destination %q, want %q", tokens[0].SelectAttrValue("Destination", ""), aa)))
	case strings.TrimSpace(tokens[0].Text()) == "":
		rows = append(rows, fail("A020", "empty GrantToken"))
	default:
		jwe = strings.TrimSpace(tokens[0].Text())
		rows = append(rows, pass("A020", "one unqualified GrantToken for the AA"))
	}
	if jwe == "" {
		return rows
	}
	if e.opt.AAKey == nil {
		return append(rows, rowsFor([]string{"A023", "A024", "A025", "A026", "A027", "A028", "A029", "A030", "A031", "A032", "A033", "A034"}, Skip, "not checked: no AA key given (--aa-key)", nil)...)
	}
	var signers []any
	for _, c := range e.md.Certs {
		signers = append(signers, c.PublicKey)
	}
	g := openGrant(jwe, e.opt.AAKey, signers, "any signing certificate of the IdP metadata")
	for _, r := range g.rows {
		if r.Status != Pass {
			r.Evidence, r.Trace = jwe, o.Trace
		}
		rows = append(rows, r)
	}
	if g.claims == nil {
		return rows
	}
	rows = append(rows, grantClaimRows(g.claims, grantWant{
		iss: e.md.EntityID, aud: aa, sid: "saml:" + root.SelectAttrValue("ID", ""), acr: lr.classRef, act: e.spA.EntityID, skew: e.opt.ClockSkew,
	})...)
	for _, r := range grantAttrRows(g.claims, readAANeeds(ctx, e.opt.HTTPClient, e.opt.StepTimeout, aa), releasedClaims(root)) {
		if r.Status == Fail {
			r.Evidence, r.Trace = jwe, o.Trace
		}
		rows = append(rows, r)
	}
	return rows
}

// readRSAKey reads a PEM RSA private key (PKCS#1 or PKCS#8).
func readRSAKey(path string) (*rsa.PrivateKey, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(raw)
	if blk == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	if k, err := x509.ParsePKCS1PrivateKey(blk.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: not an RSA private key: %w", path, err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an RSA private key", path)
	}
	return rk, nil
}

// openedGrant is a grant token after A023–A025.
type openedGrant struct {
	rows   []Row
	claims map[string]any
}

func joseHeader(compact string) map[string]any {
	h := map[string]any{}
	seg, _, _ := strings.Cut(compact, ".")
	if raw, err := base64.RawURLEncoding.DecodeString(seg); err == nil {
		_ = json.Unmarshal(raw, &h)
	}
	return h
}

// openGrant decrypts the grant JWE with the AA key and verifies the inner
// JWS with the IdP's keys (spec §9.4): signers are the public keys A025
// names for the protocol, described by keysDesc. The SAML and OIDC parts
// both judge their grant tokens here.
func openGrant(jwe string, key any, signers []any, keysDesc string) openedGrant {
	var g openedGrant
	h := joseHeader(jwe)
	alg, _ := h["alg"].(string)
	enc, _ := h["enc"].(string)
	typ, _ := h["typ"].(string)
	kid, _ := h["kid"].(string)
	obj, err := jose.ParseEncrypted(jwe, []jose.KeyAlgorithm{jose.RSA_OAEP, jose.RSA_OAEP_256}, []jose.ContentEncryption{jose.A128CBC_HS256, jose.A256CBC_HS512})
	var inner []byte
	if err == nil {
		inner, err = obj.Decrypt(key)
	}
	switch {
	case alg != "RSA-OAEP" && alg != "RSA-OAEP-256":
		g.rows = append(g.rows, Row{ID: "A023", Status: Fail, Reason: fmt.Sprintf("JWE alg %q, want RSA-OAEP or RSA-OAEP-256", alg)})
	case enc != "A128CBC-HS256" && enc != "A256CBC-HS512":
		g.rows = append(g.rows, Row{ID: "A023", Status: Fail, Reason: fmt.Sprintf("JWE enc %q, want A128CBC-HS256 or A256CBC-HS512", enc)})
	case typ != "aa-grant+jwt":
		g.rows = append(g.rows, Row{ID: "A023", Status: Fail, Reason: fmt.Sprintf("JWE typ %q, want aa-grant+jwt", typ)})
	case kid == "":
		g.rows = append(g.rows, Row{ID: "A023", Status: Fail, Reason: "JWE header without kid"})
	case err != nil:
		g.rows = append(g.rows, Row{ID: "A023", Status: Fail, Reason: "the grant token does not decrypt with the AA key: " + err.Error()})
	default:
		g.rows = append(g.rows, Row{ID: "A023", Status: Pass, Reason: fmt.Sprintf("JWE %s/%s, typ aa-grant+jwt, decrypts with the AA key", alg, enc)})
	}
	if inner == nil {
		return g
	}
	sh := joseHeader(string(inner))
	salg, _ := sh["alg"].(string)
	skid, _ := sh["kid"].(string)
	jws, err := jose.ParseSigned(string(inner), []jose.SignatureAlgorithm{jose.RS256, jose.RS512})
	switch {
	case salg != "RS256" && salg != "RS512":
		g.rows = append(g.rows, Row{ID: "A024", Status: Fail, Reason: fmt.Sprintf("inner JWS alg %q, want RS256 or RS512", salg)})
		return g
	case skid == "":
		g.rows = append(g.rows, Row{ID: "A024", Status: Fail, Reason: "inner JWS without kid"})
	case err != nil:
		g.rows = append(g.rows, Row{ID: "A024", Status: Fail, Reason: "the decrypted payload is not a compact JWS: " + err.Error()})
		return g
	default:
		g.rows = append(g.rows, Row{ID: "A024", Status: Pass, Reason: "inner JWS " + salg + " with kid"})
	}
	var payload []byte
	for _, k := range signers {
		if p, err := jws.Verify(k); err == nil {
			payload = p
			break
		}
	}
	if payload == nil {
		g.rows = append(g.rows, Row{ID: "A025", Status: Fail, Reason: "the inner JWS does not verify with " + keysDesc})
		return g
	}
	g.rows = append(g.rows, Row{ID: "A025", Status: Pass, Reason: "signature verifies with " + keysDesc})
	if err := json.Unmarshal(payload, &g.claims); err != nil {
		g.rows = append(g.rows, Row{ID: "A026", Status: Fail, Reason: "grant claims are not a JSON object: " + err.Error()})
		g.claims = nil
	}
	return g
}

// grantWant is what the grant claims must say (A026–A033).
type grantWant struct {
	iss, aud, sid, acr, act string
	skew                    time.Duration
}

func grantClaimRows(c map[string]any, w grantWant) []Row {
	check := func(id, name, want string) Row {
		got, _ := c[name].(string)
		if got != want {
			return Row{ID: id, Status: Fail, Reason: fmt.Sprintf("grant %s = %v, want %q", name, c[name], want)}
		}
		return Row{ID: id, Status: Pass, Reason: name + " ok"}
	}
	rows := []Row{check("A026", "iss", w.iss), check("A027", "aud", w.aud), check("A028", "sid", w.sid), check("A029", "acr", w.acr)}
	// A030: integer iat ≤ now, nbf = iat, exp after iat.
	num := func(name string) (int64, bool) {
		f, ok := c[name].(float64)
		return int64(f), ok && f == float64(int64(f))
	}
	iat, ok1 := num("iat")
	nbf, ok2 := num("nbf")
	exp, ok3 := num("exp")
	skew := w.skew
	if skew == 0 {
		skew = time.Second
	}
	switch {
	case !ok1 || !ok2 || !ok3:
		rows = append(rows, Row{ID: "A030", Status: Fail, Reason: fmt.Sprintf("iat/nbf/exp not all integers: %v %v %v", c["iat"], c["nbf"], c["exp"])})
	case time.Unix(iat, 0).After(time.Now().Add(skew)):
		rows = append(rows, Row{ID: "A030", Status: Fail, Reason: "iat in the future"})
	case nbf != iat:
		rows = append(rows, Row{ID: "A030", Status: Fail, Reason: fmt.Sprintf("nbf %d ≠ iat %d", nbf, iat)})
	case exp <= iat:
		rows = append(rows, Row{ID: "A030", Status: Fail, Reason: fmt.Sprintf("exp %d not after iat %d", exp, iat)})
	default:
		rows = append(rows, Row{ID: "A030", Status: Pass, Reason: fmt.Sprintf("iat = nbf, exp = iat + %d s", exp-iat)})
	}
	act, _ := c["act"].(map[string]any)
	if sub, _ := act["sub"].(string); sub != w.act {
		rows = append(rows, Row{ID: "A032", Status: Fail, Reason: fmt.Sprintf("act = %v, want {\"sub\": %q}", c["act"], w.act)})
	} else {
		rows = append(rows, Row{ID: "A032", Status: Pass, Reason: "act.sub ok"})
	}
	if jti, _ := c["jti"].(string); !reUUID4.MatchString(jti) {
		rows = append(rows, Row{ID: "A033", Status: Fail, Reason: fmt.Sprintf("jti %v is not a uuid4", c["jti"])})
	} else {
		rows = append(rows, Row{ID: "A033", Status: Pass, Reason: "jti uuid4"})
	}
	return rows
}
