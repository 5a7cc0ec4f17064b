// Package metadatatest builds valid, signed SPID service-provider metadata
// for tests of the packages that consume it (request checking, the demo SP,
// the SP registry).
package metadatatest

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/keys"
	"github.com/spid-idp/spid-idp/metadata"
)

// Options shape the metadata; the zero value gives a valid public SP at
// https://sp.example.it.
type Options struct {
	EntityID string // default "https://sp.example.it"
	// BaseURL prefixes the default endpoints; default EntityID.
	BaseURL string
	// ACS Locations for index 0 (default), 1, ...; default
	// BaseURL+"/acs" and BaseURL+"/acs/1".
	ACS []string
	// SLORedirect and SLOPOST default to BaseURL+"/slo/redirect" and
	// BaseURL+"/slo/post".
	SLORedirect, SLOPOST string
	// AttributeSets are the RequestedAttribute names of
	// AttributeConsumingService 0, 1, ...; default DefaultAttributeSets.
	AttributeSets [][]string
	DisplayName   string // OrganizationDisplayName (it); default "Servizio di prova"
	Private       bool   // private SP (VAT number, spid:Private, billing contact)

	// Pair is the SP signing key; nil means a fresh 2048-bit key whose
	// certificate follows the SP profile for EntityID.
	Pair *keys.Pair
	// SignWith signs with another key than the published one (the
	// signature's KeyInfo then carries SignWith's certificate).
	SignWith *keys.Pair
	// Unsigned leaves the metadata without a signature.
	Unsigned bool
	// Mutate changes the unsigned EntityDescriptor before signing, to make
	// metadata that breaks one rule.
	Mutate func(root *etree.Element)
	// Now is the clock for the certificate's validity; nil means time.Now.
	Now func() time.Time
}

// DefaultAttributeSets are the attributes of AttributeConsumingService 0 and 1.
var DefaultAttributeSets = [][]string{
	{"name", "familyName", "fiscalNumber", "email"},
	{"spidCode", "fiscalNumber", "dateOfBirth"},
}

// NewSP returns signed metadata built from opts and the SP's key pair; it
// fails t on error.
func NewSP(t testing.TB, opts Options) ([]byte, keys.Pair) {
	t.Helper()
	xml, pair, err := Build(opts)
	if err != nil {
		t.Fatalf("metadatatest: %v", err)
	}
	return xml, pair
}

// NewPair makes a 2048-bit SP key pair for entityID (public-SP profile).
func NewPair(t testing.TB, entityID string) keys.Pair {
	t.Helper()
	p, err := newPair(entityID, false, time.Now)
	if err != nil {
		t.Fatalf("metadatatest: %v", err)
	}
	return p
}

func newPair(entityID string, private bool, now func() time.Time) (keys.Pair, error) {
	o := keys.GenerateOptions{
		Bits:                   2048,
		Profile:                keys.ProfileSPPublic,
		CommonName:             "Servizio di prova",
		Locality:               "Roma",
		OrganizationIdentifier: "PA:IT-c_h501",
		OrganizationName:       "Comune di Prova",
		EntityID:               entityID,
		ValidFor:               365 * 24 * time.Hour,
		Now:                    now,
	}
	if private {
		o.Profile, o.OrganizationIdentifier, o.OrganizationName = keys.ProfileSPPrivate, "VATIT-12345678901", "Prova S.r.l."
	}
	return keys.Generate(o)
}

// Build is NewSP without a testing.TB, for the demo SP and benchmarks.
func Build(opts Options) ([]byte, keys.Pair, error) {
	if opts.EntityID == "" {
		opts.EntityID = "https://sp.example.it"
	}
	base := strings.TrimSuffix(opts.BaseURL, "/")
	if base == "" {
		base = strings.TrimSuffix(opts.EntityID, "/")
	}
	if opts.ACS == nil {
		opts.ACS = []string{base + "/acs", base + "/acs/1"}
	}
	if opts.SLORedirect == "" {
		opts.SLORedirect = base + "/slo/redirect"
	}
	if opts.SLOPOST == "" {
		opts.SLOPOST = base + "/slo/post"
	}
	if opts.AttributeSets == nil {
		opts.AttributeSets = DefaultAttributeSets
	}
	if opts.DisplayName == "" {
		opts.DisplayName = "Servizio di prova"
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	var pair keys.Pair
	if opts.Pair != nil {
		pair = *opts.Pair
	} else {
		p, err := newPair(opts.EntityID, opts.Private, now)
		if err != nil {
			return nil, keys.Pair{}, err
		}
		pair = p
	}

	so := metadata.SPOptions{
		EntityID: opts.EntityID,
		Signing:  pair,
		ACS:      opts.ACS,
		SLO: []metadata.Endpoint{
			{Binding: spid.BindingRedirect, Location: opts.SLORedirect},
			{Binding: spid.BindingPOST, Location: opts.SLOPOST},
		},
		Organization: map[string]metadata.Organization{
			"it": {Name: "Comune di Prova", DisplayName: opts.DisplayName, URL: base + "/"},
			"en": {Name: "Municipality of Prova", DisplayName: opts.DisplayName, URL: base + "/en/"},
		},
		Contact: metadata.Contact{Public: true, IPACode: "c_h501", Email: "servizi@sp.example.it", Telephone: "+390612345678"},
	}
	if opts.Private {
		so.Organization["it"] = metadata.Organization{Name: "Prova S.r.l.", DisplayName: opts.DisplayName, URL: base + "/"}
		so.Organization["en"] = metadata.Organization{Name: "Prova S.r.l.", DisplayName: opts.DisplayName, URL: base + "/en/"}
		so.Contact = metadata.Contact{VATNumber: "IT12345678901", Email: "servizi@sp.example.it", Telephone: "+390612345678"}
		so.Billing = &metadata.Billing{Email: "fatture@sp.example.it", VATCountry: "IT", VATCode: "12345678901",
			Denomination: "Prova S.r.l.", Address: "Via Roma 1", PostalCode: "00100", Municipality: "Roma", Province: "RM", Nation: "IT"}
	}
	for i, set := range opts.AttributeSets {
		as := metadata.AttributeService{Index: i, IsDefault: i == 0, ServiceName: map[string]string{"it": "Servizio " + strconv.Itoa(i), "en": "Service " + strconv.Itoa(i)}}
		for _, n := range set {
			as.Attributes = append(as.Attributes, metadata.RequestedAttribute{Name: n, IsRequired: true})
		}
		so.AttributeServices = append(so.AttributeServices, as)
	}
	root, err := metadata.BuildSPElement(so)
	if err != nil {
		return nil, keys.Pair{}, err
	}
	if opts.Mutate != nil {
		opts.Mutate(root)
	}
	if opts.Unsigned {
		doc := etree.NewDocument()
		doc.SetRoot(root)
		out, err := doc.WriteToBytes()
		return out, pair, err
	}
	signer := pair
	if opts.SignWith != nil {
		signer = *opts.SignWith
	}
	out, err := metadata.SignElement(root, signer)
	return out, pair, err
}

// Aggregate wraps the given EntityDescriptor documents in one
// md:EntitiesDescriptor signed by the federation operator's pair, as a
// federation publishes its SP list. validUntil zero leaves it out.
func Aggregate(t testing.TB, fed keys.Pair, validUntil time.Time, entities ...[]byte) []byte {
	t.Helper()
	b, err := BuildAggregate(fed, validUntil, entities...)
	if err != nil {
		t.Fatalf("metadatatest: %v", err)
	}
	return b
}

// BuildAggregate is Aggregate without a testing.TB.
func BuildAggregate(fed keys.Pair, validUntil time.Time, entities ...[]byte) ([]byte, error) {
	root := etree.NewElement("md:EntitiesDescriptor")
	root.CreateAttr("xmlns:md", spid.NSMetadata)
	root.CreateAttr("xmlns:ds", spid.NSDSig)
	root.CreateAttr("ID", "_federation"+strconv.FormatInt(time.Now().UnixNano(), 10))
	root.CreateAttr("Name", "https://federation.example.it")
	if !validUntil.IsZero() {
		root.CreateAttr("validUntil", metadata.FormatTime(validUntil))
	}
	for _, e := range entities {
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(e); err != nil {
			return nil, err
		}
		root.AddChild(doc.Root())
	}
	return metadata.SignElement(root, fed)
}
