package metadata

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/beevik/etree"

	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/keys"
)

// SPOptions describes SPID service-provider metadata for BuildSP: the demo
// SP and tests use it; the IdP itself only reads SP metadata.
type SPOptions struct {
	EntityID string
	Signing  keys.Pair
	// ACS are the AssertionConsumerService Locations (HTTP-POST); the
	// element at position i gets index i, and index 0 is the default.
	ACS []string
	// SLO endpoints; Binding and Location are required.
	SLO               []Endpoint
	AttributeServices []AttributeService
	Organization      map[string]Organization
	Contact           Contact
	// Billing is the private SP's billing contact (fpa:CessionarioCommittente);
	// ignored for public SPs.
	Billing *Billing
}

// Billing is the minimal fpa:CessionarioCommittente a private SP publishes.
type Billing struct {
	Email        string
	VATCountry   string // "IT"
	VATCode      string // digits of the partita IVA
	Denomination string
	Address      string
	PostalCode   string
	Municipality string
	Province     string
	Nation       string // "IT"
}

func (o *SPOptions) check() error {
	var errs []error
	if err := checkAbsURL("entityID", o.EntityID); err != nil {
		errs = append(errs, err)
	}
	if err := checkPair("signing key", o.Signing); err != nil {
		errs = append(errs, err)
	}
	if len(o.ACS) == 0 {
		errs = append(errs, errors.New("at least one ACS is required"))
	}
	for i, a := range o.ACS {
		if err := checkAbsURL("ACS "+strconv.Itoa(i), a); err != nil {
			errs = append(errs, err)
		}
	}
	if len(o.SLO) == 0 {
		errs = append(errs, errors.New("at least one SLO endpoint is required"))
	}
	if len(o.AttributeServices) == 0 {
		errs = append(errs, errors.New("at least one AttributeConsumingService is required"))
	}
	if err := checkOrganization(o.Organization); err != nil {
		errs = append(errs, err)
	}
	if err := checkContact(o.Contact); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// BuildSPElement returns the unsigned md:EntityDescriptor of an SP. Tests
// change it before signing to craft invalid metadata.
func BuildSPElement(opts SPOptions) (*etree.Element, error) {
	if err := opts.check(); err != nil {
		return nil, fmt.Errorf("metadata: SP options: %w", err)
	}
	root, err := newEntityDescriptor(opts.EntityID)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	sp := root.CreateElement("md:SPSSODescriptor")
	sp.CreateAttr("protocolSupportEnumeration", spid.ProtocolSupport)
	sp.CreateAttr("AuthnRequestsSigned", "true")
	sp.CreateAttr("WantAssertionsSigned", "true")
	addKeyDescriptor(sp, opts.Signing)
	for _, e := range opts.SLO {
		el := sp.CreateElement("md:SingleLogoutService")
		el.CreateAttr("Binding", e.Binding)
		el.CreateAttr("Location", e.Location)
		if e.ResponseLocation != "" {
			el.CreateAttr("ResponseLocation", e.ResponseLocation)
		}
	}
	sp.CreateElement("md:NameIDFormat").SetText(spid.NameIDTransient)
	for i, loc := range opts.ACS {
		el := sp.CreateElement("md:AssertionConsumerService")
		el.CreateAttr("index", strconv.Itoa(i))
		if i == 0 {
			el.CreateAttr("isDefault", "true")
		}
		el.CreateAttr("Binding", spid.BindingPOST)
		el.CreateAttr("Location", loc)
	}
	for _, as := range opts.AttributeServices {
		el := sp.CreateElement("md:AttributeConsumingService")
		el.CreateAttr("index", strconv.Itoa(as.Index))
		if as.IsDefault {
			el.CreateAttr("isDefault", "true")
		}
		langs := make(map[string]Organization, len(as.ServiceName))
		for l := range as.ServiceName {
			langs[l] = Organization{}
		}
		for _, l := range sortedLangs(langs) {
			sn := el.CreateElement("md:ServiceName")
			sn.CreateAttr("xml:lang", l)
			sn.SetText(as.ServiceName[l])
		}
		for _, ra := range as.Attributes {
			r := el.CreateElement("md:RequestedAttribute")
			r.CreateAttr("Name", ra.Name)
			r.CreateAttr("NameFormat", spid.AttrNameBasic)
			if ra.IsRequired {
				r.CreateAttr("isRequired", "true")
			}
		}
	}
	addOrganization(root, opts.Organization)
	addContact(root, opts.Contact)
	if !opts.Contact.Public && opts.Billing != nil {
		addBilling(root, *opts.Billing)
	}
	return root, nil
}

func addBilling(root *etree.Element, b Billing) {
	cp := root.CreateElement("md:ContactPerson")
	cp.CreateAttr("contactType", "billing")
	ext := cp.CreateElement("md:Extensions")
	ext.CreateAttr("xmlns:fpa", NSFPA)
	cc := ext.CreateElement("fpa:CessionarioCommittente")
	da := cc.CreateElement("fpa:DatiAnagrafici")
	iva := da.CreateElement("fpa:IdFiscaleIVA")
	iva.CreateElement("fpa:IdPaese").SetText(b.VATCountry)
	iva.CreateElement("fpa:IdCodice").SetText(b.VATCode)
	da.CreateElement("fpa:Anagrafica").CreateElement("fpa:Denominazione").SetText(b.Denomination)
	sede := cc.CreateElement("fpa:Sede")
	sede.CreateElement("fpa:Indirizzo").SetText(b.Address)
	sede.CreateElement("fpa:CAP").SetText(b.PostalCode)
	sede.CreateElement("fpa:Comune").SetText(b.Municipality)
	if b.Province != "" {
		sede.CreateElement("fpa:Provincia").SetText(b.Province)
	}
	sede.CreateElement("fpa:Nazione").SetText(b.Nation)
	cp.CreateElement("md:EmailAddress").SetText(b.Email)
}

// SignElement signs an EntityDescriptor built by BuildSPElement (signature
// as first child) and serialises it.
func SignElement(root *etree.Element, pair keys.Pair) ([]byte, error) {
	out, err := signAndSerialize(root, pair)
	if err != nil {
		return nil, fmt.Errorf("metadata: sign: %w", err)
	}
	return out, nil
}

// BuildSP returns signed SP metadata.
func BuildSP(opts SPOptions) ([]byte, error) {
	root, err := BuildSPElement(opts)
	if err != nil {
		return nil, err
	}
	return SignElement(root, opts.Signing)
}
