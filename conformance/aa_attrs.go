package conformance

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/beevik/etree"
)

// The AA-specific grant claims (A031, A034): what the AA needs is public,
// in its OpenAPI document (info.x-spid, spec §9.1), which the suite reads
// as any relying party could; the user's values are those the IdP
// released to the simulated SP or RP in the same login.

func init() {
	checklistTitles["A031"] = "grant sub = the user's value of the AA's lookup attribute"
	checklistTitles["A034"] = "grant carries every attribute the AA requires, as released"
	checklistTitles["A010"] = "qualified and unqualified Locations read, trimmed, merged"
	checklistTitles["A012"] = "the AA's logo_uri is the <img src>, unchanged"
	checklistTitles["A013"] = "the AA's organization_name is shown, HTML-escaped"
	checklistTitles["A017"] = "choice page images only from 'self', data: and the logos' origins"
}

// fallbackLookup is the lookup attribute of an AA that names none (spec §9.4).
const fallbackLookup = claimFiscal

// aaNeeds is what an AA's documentation says it needs.
type aaNeeds struct {
	required []string
	lookup   string
	err      error // why they could not be read
	// name and logo are the AA's organization_name and logo_uri
	// (federation_entity, logo falling back to oauth_resource's), what
	// the choice page shows (A012, A013); logoErr why they are unknown.
	name, logo string
	logoErr    error
}

// samlToClaim maps the SAML attributes the simulated SP requests to the
// OIDC claims a grant carries (spec §8; same values for these).
var samlToClaim = map[string]string{
	"email": "email", "fiscalNumber": claimFiscal, "name": "given_name", "familyName": "family_name", "dateOfBirth": "birthdate",
}

const maxAADoc = 256 << 10

// readAANeeds fetches the AA's entity configuration and the OpenAPI
// document its service_documentation names (in the oauth_resource metadata
// or a trust mark). The statement is not verified: the suite only learns
// which claims to look for, and trusts nothing else from it.
func readAANeeds(ctx context.Context, client *http.Client, timeout time.Duration, aaID string) aaNeeds {
	if client == nil {
		client = http.DefaultClient
	}
	ec, err := getDoc(ctx, client, timeout, strings.TrimSuffix(aaID, "/")+wellKnownFederation)
	if err != nil {
		err = fmt.Errorf("the AA's entity configuration: %w", err)
		return aaNeeds{err: err, logoErr: err}
	}
	parts := strings.Split(strings.TrimSpace(string(ec)), ".")
	var st struct {
		Metadata struct {
			Resource struct {
				Doc  string `json:"service_documentation"`
				Logo string `json:"logo_uri"`
			} `json:"oauth_resource"`
			Entity struct {
				Name string `json:"organization_name"`
				Logo string `json:"logo_uri"`
			} `json:"federation_entity"`
		} `json:"metadata"`
		TrustMarks []struct {
			TrustMark string `json:"trust_mark"`
		} `json:"trust_marks"`
	}
	if len(parts) != 3 {
		err := fmt.Errorf("the AA's entity configuration is not a compact JWS")
		return aaNeeds{err: err, logoErr: err}
	}
	if raw, err := base64.RawURLEncoding.DecodeString(parts[1]); err != nil || json.Unmarshal(raw, &st) != nil {
		err := fmt.Errorf("the AA's entity configuration payload is not JSON")
		return aaNeeds{err: err, logoErr: err}
	}
	doc := st.Metadata.Resource.Doc
	var markClaims []string
	for _, tm := range st.TrustMarks {
		var m struct {
			Doc    string         `json:"service_documentation"`
			Claims map[string]any `json:"claims"`
		}
		p := strings.Split(tm.TrustMark, ".")
		if len(p) != 3 {
			continue
		}
		if raw, err := base64.RawURLEncoding.DecodeString(p[1]); err != nil || json.Unmarshal(raw, &m) != nil {
			continue
		}
		if m.Doc != "" {
			doc = m.Doc
		}
		for c := range m.Claims {
			markClaims = append(markClaims, c)
		}
	}
	n := aaNeeds{required: markClaims, lookup: fallbackLookup, name: st.Metadata.Entity.Name, logo: or(st.Metadata.Entity.Logo, st.Metadata.Resource.Logo)}
	if n.name == "" || n.logo == "" {
		n.logoErr = fmt.Errorf("the AA's entity configuration has no organization_name or logo_uri")
	}
	if doc == "" {
		if len(n.required) == 0 {
			n.err = fmt.Errorf("the AA publishes no service_documentation")
		}
		return n
	}
	body, err := getDoc(ctx, client, timeout, doc)
	if err != nil {
		if len(n.required) == 0 {
			n.err = fmt.Errorf("the AA's OpenAPI document: %w", err)
		}
		return n
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
		n.err = fmt.Errorf("the AA's OpenAPI document is not JSON: %w", err)
		return n
	}
	if len(api.Info.XSPID.Required) > 0 {
		n.required = api.Info.XSPID.Required
	}
	if api.Info.XSPID.Lookup != "" {
		n.lookup = api.Info.XSPID.Lookup
	}
	if len(n.required) == 0 {
		n.err = fmt.Errorf("the AA's OpenAPI document has no info.x-spid aa-required-attributes")
	}
	return n
}

// getDoc is a GET of at most maxAADoc bytes within the step timeout.
func getDoc(ctx context.Context, client *http.Client, timeout time.Duration, u string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	res, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d", u, res.StatusCode)
	}
	return io.ReadAll(io.LimitReader(res.Body, maxAADoc))
}

// grantAttrRows judges the grant's AA-specific claims: sub is the user's
// value of the lookup claim (A031) and every required claim is there with
// the value the IdP released for the user in the same login (A034).
// user holds those released values in OIDC form; a claim the login did
// not release is checked for presence only.
func grantAttrRows(c map[string]any, n aaNeeds, user map[string]any) []Row {
	if n.err != nil {
		why := "not checked: the AA's required and lookup attributes are unknown: " + n.err.Error()
		return []Row{{ID: "A031", Status: Skip, Reason: why}, {ID: "A034", Status: Skip, Reason: why}}
	}
	var rows []Row
	want, known := user[n.lookup]
	switch {
	case !known:
		rows = append(rows, Row{ID: "A031", Status: Skip, Reason: fmt.Sprintf("not checked: the login released no %s, the AA's lookup attribute", n.lookup)})
	case !reflect.DeepEqual(c["sub"], want):
		rows = append(rows, Row{ID: "A031", Status: Fail, Reason: fmt.Sprintf("grant sub = %v, want the user's %s %v", c["sub"], n.lookup, want)})
	default:
		rows = append(rows, Row{ID: "A031", Status: Pass, Reason: "sub = the user's " + n.lookup})
	}
	var bad []string
	for _, name := range n.required {
		got, ok := c[name]
		v, released := user[name]
		switch {
		case !ok || got == nil || got == "":
			bad = append(bad, name+" missing")
		case released && !reflect.DeepEqual(got, v):
			bad = append(bad, fmt.Sprintf("%s = %v, released as %v", name, got, v))
		}
	}
	if len(bad) > 0 {
		rows = append(rows, Row{ID: "A034", Status: Fail, Reason: "grant attributes the AA requires: " + strings.Join(bad, "; ")})
	} else {
		rows = append(rows, Row{ID: "A034", Status: Pass, Reason: "every attribute the AA requires: " + strings.Join(n.required, ", ")})
	}
	return rows
}

// releasedClaims reads the Response's attributes as OIDC claims (those of
// samlToClaim).
func releasedClaims(root *etree.Element) map[string]any {
	out := map[string]any{}
	a := root.SelectElement("Assertion")
	if a == nil {
		return out
	}
	for _, st := range a.SelectElements("AttributeStatement") {
		for _, at := range st.SelectElements("Attribute") {
			claim, ok := samlToClaim[at.SelectAttrValue("Name", "")]
			if v := at.SelectElement("AttributeValue"); ok && v != nil {
				out[claim] = strings.TrimSpace(v.Text())
			}
		}
	}
	return out
}

// aaPageCase (A010, A012, A013, A017): the AA named twice, once by a
// spid:-qualified Location with spaces around it and once unqualified, is
// offered once; the choice page shows its logo_uri unchanged and its
// escaped organization_name, and lets images load only from 'self',
// data: and the logos' origins. The person chooses none (A022).
func aaPageCase(ctx context.Context, e *env) []Row {
	ids := []string{"A010", "A012", "A013", "A017", "A022"}
	if rows, ok := e.needAA(ids...); !ok {
		return rows
	}
	aa := e.opt.AAEntityID
	ext := func(r *etree.Element) {
		x := etree.NewElement("samlp:Extensions")
		el := x.CreateElement("spid:RequiredAttributeAuthority")
		el.CreateAttr("xmlns:spid", nsSPID)
		el.CreateElement("spid:Location").SetText("  " + aa + "\n")
		el.CreateElement("Location").SetText(aa)
		insertAfter(r, "Issuer", x)
	}
	lr, root, bad := e.aaLogin(ctx, ext, &aaAnswer{})
	if root == nil || !lr.ok {
		return e.aaNoResponse(lr, bad, "A010")
	}
	o := lr.out
	fail := func(id, why string) Row { return rowsFor([]string{id}, Fail, why, o)[0] }
	var rows []Row
	n := 0
	for _, v := range o.AAOffered {
		if v == aa {
			n++
		}
	}
	if !o.SawAAChoice || n != 1 {
		rows = append(rows, fail("A010", fmt.Sprintf("the AA named by a qualified, padded Location and an unqualified one is offered %d times (offered %v), want once", n, o.AAOffered)))
		return append(rows, noGrantRow(root, o))
	}
	rows = append(rows, Row{ID: "A010", Status: Pass, Reason: "qualified and unqualified Locations read, trimmed, merged"})
	info := readAANeeds(ctx, e.opt.HTTPClient, e.opt.StepTimeout, aa)
	page := string(o.AAChoicePage)
	var srcs []string
	for _, m := range reImgSrc.FindAllStringSubmatch(page, -1) {
		srcs = append(srcs, html.UnescapeString(m[1]))
	}
	if info.logoErr != nil {
		why := "not checked: " + info.logoErr.Error()
		rows = append(rows, Row{ID: "A012", Status: Skip, Reason: why}, Row{ID: "A013", Status: Skip, Reason: why})
	} else {
		if slices.Contains(srcs, info.logo) {
			rows = append(rows, Row{ID: "A012", Status: Pass, Reason: "logo <img src> = the AA's logo_uri"})
		} else {
			rows = append(rows, fail("A012", fmt.Sprintf("no <img src=%q> on the choice page (images: %v)", info.logo, srcs)))
		}
		if strings.Contains(page, html.EscapeString(info.name)) {
			rows = append(rows, Row{ID: "A013", Status: Pass, Reason: "organization_name shown, escaped"})
		} else {
			rows = append(rows, fail("A013", fmt.Sprintf("the choice page does not show the AA's organization_name %q (HTML-escaped)", info.name)))
		}
	}
	rows = append(rows, cspImagesRow(o.AAChoiceCSP, srcs, o))
	return append(rows, noGrantRow(root, o))
}

var reImgSrc = regexp.MustCompile(`(?is)<img\b[^>]*\bsrc="([^"]*)"`)

// cspImagesRow is A017: img-src (or default-src) allows 'self', data: and
// only the https origins of the page's images.
func cspImagesRow(policy string, srcs []string, o *outcome) Row {
	var img, def []string
	for _, d := range strings.Split(policy, ";") {
		f := strings.Fields(d)
		if len(f) == 0 {
			continue
		}
		switch strings.ToLower(f[0]) {
		case "img-src":
			img = f[1:]
		case "default-src":
			def = f[1:]
		}
	}
	if img == nil {
		img = def
	}
	if img == nil {
		return rowsFor([]string{"A017"}, Fail, fmt.Sprintf("the choice page's policy %q restricts no images (no img-src or default-src)", policy), o)[0]
	}
	allowed := map[string]bool{"'self'": true, "data:": true}
	for _, s := range srcs {
		if u, err := url.Parse(s); err == nil && u.Scheme == "https" {
			allowed["https://"+u.Host] = true
		}
	}
	for _, src := range img {
		if !allowed[strings.TrimSuffix(src, "/")] {
			return rowsFor([]string{"A017"}, Fail, fmt.Sprintf("img-src allows %s, neither 'self', data: nor a listed logo's origin (policy %q)", src, policy), o)[0]
		}
	}
	return Row{ID: "A017", Status: Pass, Reason: "img-src " + strings.Join(img, " ")}
}
