package response_test

import (
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/idp/response"
	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/keys"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/storage"
)

// How the SSO handler answers once the user has given consent: pick the
// requested attributes, build and sign the Response, hand the form to the
// page template.
func ExampleBuilder_Success() {
	pair, err := keys.Load("testdata/golden-test-key.pem", "testdata/golden-test-cert.pem")
	if err != nil {
		log.Fatal(err)
	}
	b := &response.Builder{EntityID: "https://idp.example.it", Signing: pair}

	identity := storage.Identity{ID: "42", Attributes: map[string]string{
		"fiscalNumber": "RSSMRA85T10A562S", "name": "Mario", "familyName": "Rossi",
	}}
	requested := []metadata.RequestedAttribute{{Name: "fiscalNumber"}, {Name: "email"}, {Name: "name"}}
	attrs, err := response.AttributesFor(identity, requested)
	if err != nil {
		log.Fatal(err) // a stored value that cannot be asserted
	}

	xml, err := b.Success(response.Success{
		InResponseTo:              "_request-id",
		RequestIssueInstant:       time.Now().Add(-time.Second),
		Destination:               "https://sp.example.org/acs",
		Audience:                  "https://sp.example.org",
		NameID:                    response.RandomID(),
		Level:                     spid.L2,
		AuthnInstant:              time.Now().Add(-10 * time.Second),
		IncludeAttributeStatement: true,
		Attributes:                attrs,
	})
	if err != nil {
		log.Fatal(err)
	}
	form := response.PostForm("https://sp.example.org/acs", "SAMLResponse", xml, "relay-state-from-the-request")
	for _, a := range attrs {
		fmt.Println(a.Name, "=", a.Value)
	}
	fmt.Println(form.Action, form.Fields[0].Name, form.Fields[1].Name)
	// Output:
	// fiscalNumber = TINIT-RSSMRA85T10A562S
	// name = Mario
	// https://sp.example.org/acs SAMLResponse RelayState
}

// Answering an SP's LogoutRequest over HTTP-Redirect: the message is built
// without an XML signature and the query string is signed instead. Over
// HTTP-POST, leave Unsigned false and use PostForm.
func ExampleBuilder_RedirectURL() {
	pair, err := keys.Load("testdata/golden-test-key.pem", "testdata/golden-test-cert.pem")
	if err != nil {
		log.Fatal(err)
	}
	b := &response.Builder{EntityID: "https://idp.example.it", Signing: pair}
	xml, err := b.LogoutResponse(response.LogoutResponse{
		InResponseTo: "_logout-request-id",
		Destination:  "https://sp.example.org/slo",
		Unsigned:     true,
	})
	if err != nil {
		log.Fatal(err)
	}
	u, err := b.RedirectURL("https://sp.example.org/slo", xml, "SAMLResponse", "")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.HasPrefix(u, "https://sp.example.org/slo?SAMLResponse="),
		strings.Contains(u, "&SigAlg=http%3A%2F%2Fwww.w3.org%2F2001%2F04%2Fxmldsig-more%23rsa-sha256&Signature="))
	// Output: true true
}
