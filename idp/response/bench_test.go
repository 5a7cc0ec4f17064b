package response_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/spid-idp/spid-idp/idp/response"
	"github.com/spid-idp/spid-idp/idp/response/responsetest"
	"github.com/spid-idp/spid-idp/keys"
)

// Issue goal: at least 1.3× crewjam/saml's throughput for the same signed
// Response, and at most 100 KB allocated per Response. Both sides sign the
// Assertion and the Response with the same RSA key, so the RSA private-key
// operations (identical on both sides) bound the achievable ratio; the
// benchmarks run with a 2048-bit key (the profile's minimum) and a 3072-bit
// one (what we deploy, spec §9).
var benchKeySizes = []int{2048, 3072}

// benchSuccess is the request answered in the benchmarks: five attributes.
func benchSuccess() response.Success {
	return response.Success{
		InResponseTo: requestID, RequestIssueInstant: reqInstant,
		Destination: acsURL, Audience: spEntity,
		NameID: "_0123456789abcdef0123456789abcdef", Level: 2, AuthnInstant: authnAt,
		IncludeAttributeStatement: true,
		Attributes: []response.Attribute{
			{Name: "fiscalNumber", Value: "TINIT-RSSMRA85T10A562S"},
			{Name: "name", Value: "Mario"},
			{Name: "familyName", Value: "Rossi"},
			{Name: "email", Value: "mario.rossi@example.it"},
			{Name: "dateOfBirth", Value: "1985-12-10"},
		},
	}
}

func ourBuilder(pair keys.Pair) *response.Builder {
	return &response.Builder{EntityID: idpEntity, Signing: pair, Now: func() time.Time { return clock }}
}

// crewjamIdP is the same answer made by crewjam/saml's IdP: DefaultAssertionMaker
// (five attributes from the session), MakeResponse (which signs the Assertion
// and the Response with RSA-SHA256), and serialisation to bytes.
type crewjamIdP struct {
	idp     *saml.IdentityProvider
	spMeta  *saml.EntityDescriptor
	session *saml.Session
	httpReq *http.Request
}

func newCrewjamIdP(pair keys.Pair) *crewjamIdP {
	mdURL, _ := url.Parse(idpEntity)
	ssoURL, _ := url.Parse(idpEntity + "/sso")
	spMeta := &saml.EntityDescriptor{
		EntityID: spEntity,
		SPSSODescriptors: []saml.SPSSODescriptor{{
			AssertionConsumerServices: []saml.IndexedEndpoint{{Binding: saml.HTTPPostBinding, Location: acsURL, Index: 0}},
		}},
	}
	httpReq, _ := http.NewRequest(http.MethodPost, idpEntity+"/sso", nil)
	httpReq.RemoteAddr = "192.0.2.1:1234"
	return &crewjamIdP{
		idp: &saml.IdentityProvider{
			Key: pair.Key, Certificate: pair.Cert,
			MetadataURL: *mdURL, SSOURL: *ssoURL,
			SignatureMethod: dsig.RSASHA256SignatureMethod,
		},
		spMeta: spMeta,
		// uid, mail, eduPersonPrincipalName, sn, givenName: five attributes.
		session: &saml.Session{
			ID: "s1", CreateTime: authnAt, ExpireTime: clock.Add(time.Hour), Index: "_sess1",
			NameID: "_0123456789abcdef0123456789abcdef", UserName: "RSSMRA85T10A562S",
			UserEmail: "mario.rossi@example.it", UserSurname: "Rossi", UserGivenName: "Mario",
		},
		httpReq: httpReq,
	}
}

func (c *crewjamIdP) response() ([]byte, error) {
	sp := &c.spMeta.SPSSODescriptors[0]
	req := &saml.IdpAuthnRequest{
		IDP:                     c.idp,
		HTTPRequest:             c.httpReq,
		Request:                 saml.AuthnRequest{ID: requestID, IssueInstant: reqInstant, Version: "2.0"},
		ServiceProviderMetadata: c.spMeta,
		SPSSODescriptor:         sp,
		ACSEndpoint:             &sp.AssertionConsumerServices[0],
		Now:                     clock,
	}
	if err := (saml.DefaultAssertionMaker{}).MakeAssertion(req, c.session); err != nil {
		return nil, err
	}
	if err := req.MakeResponse(); err != nil {
		return nil, err
	}
	doc := etree.NewDocument()
	doc.SetRoot(req.ResponseEl)
	return doc.WriteToBytes()
}

func BenchmarkSuccess(b *testing.B) {
	for _, bits := range benchKeySizes {
		b.Run(fmt.Sprintf("rsa%d", bits), func(b *testing.B) {
			bl := ourBuilder(responsetest.Pair(b, bits))
			s := benchSuccess()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bl.Success(s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCrewjamResponse(b *testing.B) {
	for _, bits := range benchKeySizes {
		b.Run(fmt.Sprintf("rsa%d", bits), func(b *testing.B) {
			c := newCrewjamIdP(responsetest.Pair(b, bits))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.response(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParallel measures throughput with every core building Responses,
// as an IdP does under a login peak: here allocation and GC pressure count
// as well as single-response latency.
func BenchmarkParallel(b *testing.B) {
	for _, bits := range benchKeySizes {
		pair := responsetest.Pair(b, bits)
		b.Run(fmt.Sprintf("ours/rsa%d", bits), func(b *testing.B) {
			bl, s := ourBuilder(pair), benchSuccess()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := bl.Success(s); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
		b.Run(fmt.Sprintf("crewjam/rsa%d", bits), func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				c := newCrewjamIdP(pair) // IdpAuthnRequest state is per goroutine
				for pb.Next() {
					if _, err := c.response(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkSpeedup interleaves, per iteration, two bare RSA-SHA256
// signatures with the same key (the floor both implementations share), one
// of our Responses and one of crewjam's, so all three see the same machine
// load. It reports crewjam's time over ours ("x-vs-crewjam", goal ≥ 1.3),
// crewjam's time over the RSA floor ("ceiling-x": the best ratio any signer
// of two RSA signatures could reach), and the time each spends beyond the
// floor ("ours-extra-us", "crewjam-extra-us").
//
// On Linux times are CPU time of the benchmark thread, which stays
// meaningful on a host shared with other jobs; it leaves out GC work done by
// background threads, which favours crewjam (13× our allocation). Elsewhere
// they are wall time.
func BenchmarkSpeedup(b *testing.B) {
	for _, bits := range benchKeySizes {
		b.Run(fmt.Sprintf("rsa%d", bits), func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			now := cpuNow
			if _, ok := threadCPU(); !ok {
				start := time.Now()
				now = func() time.Duration { return time.Since(start) }
			}
			pair := responsetest.Pair(b, bits)
			bl, c, s := ourBuilder(pair), newCrewjamIdP(pair), benchSuccess()
			digest := sha256.Sum256([]byte("floor"))
			var floor, ours, theirs time.Duration
			for b.Loop() {
				t0 := now()
				for range 2 {
					if _, err := rsa.SignPKCS1v15(rand.Reader, pair.Key.(*rsa.PrivateKey), crypto.SHA256, digest[:]); err != nil {
						b.Fatal(err)
					}
				}
				t1 := now()
				if _, err := bl.Success(s); err != nil {
					b.Fatal(err)
				}
				t2 := now()
				if _, err := c.response(); err != nil {
					b.Fatal(err)
				}
				t3 := now()
				floor += t1 - t0
				ours += t2 - t1
				theirs += t3 - t2
			}
			n := float64(b.N)
			b.ReportMetric(float64(theirs)/float64(ours), "x-vs-crewjam")
			b.ReportMetric(float64(theirs)/float64(floor), "ceiling-x")
			b.ReportMetric(float64(ours-floor)/n/1e3, "ours-extra-us")
			b.ReportMetric(float64(theirs-floor)/n/1e3, "crewjam-extra-us")
		})
	}
}

func cpuNow() time.Duration {
	d, _ := threadCPU()
	return d
}

// The crewjam benchmark must measure a real, valid Response, or the ratio
// means nothing.
func TestCrewjamBenchmarkResponseIsValid(t *testing.T) {
	pair := responsetest.Pair(t, 0)
	out, err := newCrewjamIdP(pair).response()
	if err != nil {
		t.Fatal(err)
	}
	r := parse(t, out)
	if _, err := responsetest.Verify(r, pair.Cert, clock); err != nil {
		t.Errorf("crewjam Response signature: %v", err)
	}
	as := r.FindElement("./Assertion")
	if as == nil {
		t.Fatal("no Assertion")
	}
	if n := len(as.FindElements("./AttributeStatement/Attribute")); n != 5 {
		t.Errorf("crewjam Response has %d attributes, want 5 like ours", n)
	}
}
