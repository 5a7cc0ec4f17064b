package conformance

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
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
}

// fallbackLookup is the lookup attribute of an AA that names none (spec §9.4).
const fallbackLookup = claimFiscal

// aaNeeds is what an AA's documentation says it needs.
type aaNeeds struct {
	required []string
	lookup   string
	err      error // why they could not be read
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
		return aaNeeds{err: fmt.Errorf("the AA's entity configuration: %w", err)}
	}
	parts := strings.Split(strings.TrimSpace(string(ec)), ".")
	var st struct {
		Metadata struct {
			Resource struct {
				Doc string `json:"service_documentation"`
			} `json:"oauth_resource"`
		} `json:"metadata"`
		TrustMarks []struct {
			TrustMark string `json:"trust_mark"`
		} `json:"trust_marks"`
	}
	if len(parts) != 3 {
		return aaNeeds{err: fmt.Errorf("the AA's entity configuration is not a compact JWS")}
	}
	if raw, err := base64.RawURLEncoding.DecodeString(parts[1]); err != nil || json.Unmarshal(raw, &st) != nil {
		return aaNeeds{err: fmt.Errorf("the AA's entity configuration payload is not JSON")}
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
	n := aaNeeds{required: markClaims, lookup: fallbackLookup}
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
