package metadata

import "crypto/x509"

// Endpoint is an indexed or plain SAML endpoint from SP metadata.
type Endpoint struct {
	Binding          string
	Location         string
	ResponseLocation string // SLO only; empty when absent
	Index            int    // ACS only
	IsDefault        bool   // ACS only
}

// RequestedAttribute is one attribute an AttributeConsumingService asks for.
type RequestedAttribute struct {
	Name       string // one of the 23 SPID attribute names
	IsRequired bool
}

// AttributeService is an AttributeConsumingService of the SP.
type AttributeService struct {
	Index       int
	IsDefault   bool
	ServiceName map[string]string // xml:lang -> name
	Attributes  []RequestedAttribute
}

// SP is a service provider's metadata as the IdP uses it at run time
// (spec saml-profile.md §2.3), produced only by a parse that passed every
// check of §2.2.
type SP struct {
	EntityID string
	// Certificates are the signing certificates; a request verified by any of
	// them is authentic.
	Certificates      []*x509.Certificate
	ACS               []Endpoint
	AttributeServices []AttributeService
	SLO               []Endpoint
	// DisplayName is Organization/OrganizationDisplayName by xml:lang; "it"
	// is always present and must be shown on the consent page.
	DisplayName map[string]string
}

// DefaultACS is the ACS with isDefault="true" (index 0 by profile).
func (sp *SP) DefaultACS() (Endpoint, bool) {
	for _, e := range sp.ACS {
		if e.IsDefault {
			return e, true
		}
	}
	return Endpoint{}, false
}

// ACSByIndex returns the ACS with the given index.
func (sp *SP) ACSByIndex(i int) (Endpoint, bool) {
	for _, e := range sp.ACS {
		if e.Index == i {
			return e, true
		}
	}
	return Endpoint{}, false
}

// ACSByLocation returns the ACS whose Location is exactly url.
func (sp *SP) ACSByLocation(url string) (Endpoint, bool) {
	for _, e := range sp.ACS {
		if e.Location == url {
			return e, true
		}
	}
	return Endpoint{}, false
}

// AttributeService returns the AttributeConsumingService with index i.
func (sp *SP) AttributeService(i int) (AttributeService, bool) {
	for _, a := range sp.AttributeServices {
		if a.Index == i {
			return a, true
		}
	}
	return AttributeService{}, false
}
