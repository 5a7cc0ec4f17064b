package metadata

import (
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/keys"
)

// Defaults for IdP metadata lifetimes.
const (
	DefaultIdPValidFor      = 30 * 24 * time.Hour
	DefaultIdPCacheDuration = 24 * time.Hour
)

// IdPOptions describes the IdP metadata BuildIdP writes (spec §1.2–§1.7).
type IdPOptions struct {
	EntityID       string // an HTTPS URL in production
	SSORedirectURL string
	SSOPOSTURL     string
	SLORedirectURL string
	SLOPOSTURL     string

	Signing keys.Pair
	// NextSigning, during a key rollover, is published as a second signing
	// KeyDescriptor so SPs learn it before the IdP switches to it.
	NextSigning *keys.Pair
	// ExtraCerts are further signing certificates published without their
	// keys: the next key before a rollover, or the previous one after it.
	ExtraCerts []*x509.Certificate

	// Organization by xml:lang; "it" is required, "en" recommended.
	Organization map[string]Organization
	Contact      Contact

	ValidFor      time.Duration // validUntil = now + ValidFor; 0 means DefaultIdPValidFor
	CacheDuration time.Duration // 0 means DefaultIdPCacheDuration
	// Attributes are the SPID attribute names declared; nil means all 23.
	Attributes []string
	Now        func() time.Time // nil means time.Now
}

func (o *IdPOptions) check() error {
	var errs []error
	if err := checkAbsURL("entityID", o.EntityID); err != nil {
		errs = append(errs, err)
	}
	for _, u := range []struct{ what, v string }{
		{"SSO Redirect URL", o.SSORedirectURL}, {"SSO POST URL", o.SSOPOSTURL},
		{"SLO Redirect URL", o.SLORedirectURL}, {"SLO POST URL", o.SLOPOSTURL},
	} {
		if err := checkAbsURL(u.what, u.v); err != nil {
			errs = append(errs, err)
		}
	}
	if err := checkPair("signing key", o.Signing); err != nil {
		errs = append(errs, err)
	}
	if o.NextSigning != nil {
		if err := checkPair("next signing key", *o.NextSigning); err != nil {
			errs = append(errs, err)
		}
	}
	for i, c := range o.ExtraCerts {
		if c == nil {
			errs = append(errs, fmt.Errorf("extra certificate %d is missing", i+1))
		} else if err := keys.CheckStrength(c); err != nil {
			errs = append(errs, fmt.Errorf("extra certificate %d: %w", i+1, err))
		}
	}
	if err := checkOrganization(o.Organization); err != nil {
		errs = append(errs, err)
	}
	if err := checkContact(o.Contact); err != nil {
		errs = append(errs, err)
	}
	seen := map[string]bool{}
	for _, a := range o.Attributes {
		if _, ok := LookupAttribute(a); !ok {
			errs = append(errs, fmt.Errorf("attribute %q is not a SPID attribute", a))
		}
		if seen[a] {
			errs = append(errs, fmt.Errorf("attribute %q listed twice", a))
		}
		seen[a] = true
	}
	if o.ValidFor < 0 || o.CacheDuration < 0 {
		errs = append(errs, errors.New("validity and cache duration must not be negative"))
	}
	return errors.Join(errs...)
}

// BuildIdP returns the IdP's signed metadata. The bytes must be served as
// they are: the signature covers them, and re-indenting would break it.
func BuildIdP(opts IdPOptions) ([]byte, error) {
	if err := opts.check(); err != nil {
		return nil, fmt.Errorf("metadata: IdP options: %w", err)
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	validFor, cache := opts.ValidFor, opts.CacheDuration
	if validFor == 0 {
		validFor = DefaultIdPValidFor
	}
	if cache == 0 {
		cache = DefaultIdPCacheDuration
	}
	attrs := opts.Attributes
	if attrs == nil {
		attrs = AttributeNames()
	}

	root, err := newEntityDescriptor(opts.EntityID)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	root.CreateAttr("xmlns:saml", spid.NSAssertion)
	root.CreateAttr("validUntil", FormatTime(now().Add(validFor)))
	root.CreateAttr("cacheDuration", FormatDuration(cache))

	sso := root.CreateElement("md:IDPSSODescriptor")
	sso.CreateAttr("protocolSupportEnumeration", spid.ProtocolSupport)
	sso.CreateAttr("WantAuthnRequestsSigned", "true")
	addKeyDescriptor(sso, opts.Signing)
	if opts.NextSigning != nil {
		addKeyDescriptor(sso, *opts.NextSigning)
	}
	for _, c := range opts.ExtraCerts {
		addKeyDescriptor(sso, keys.Pair{Cert: c})
	}
	for _, e := range []struct{ tag, binding, loc string }{
		{"md:SingleLogoutService", spid.BindingRedirect, opts.SLORedirectURL},
		{"md:SingleLogoutService", spid.BindingPOST, opts.SLOPOSTURL},
	} {
		el := sso.CreateElement(e.tag)
		el.CreateAttr("Binding", e.binding)
		el.CreateAttr("Location", e.loc)
	}
	sso.CreateElement("md:NameIDFormat").SetText(spid.NameIDTransient)
	for _, e := range []struct{ binding, loc string }{
		{spid.BindingRedirect, opts.SSORedirectURL},
		{spid.BindingPOST, opts.SSOPOSTURL},
	} {
		el := sso.CreateElement("md:SingleSignOnService")
		el.CreateAttr("Binding", e.binding)
		el.CreateAttr("Location", e.loc)
	}
	for _, name := range attrs {
		a, _ := LookupAttribute(name)
		el := sso.CreateElement("saml:Attribute")
		el.CreateAttr("Name", a.Name)
		el.CreateAttr("NameFormat", spid.AttrNameBasic)
		el.CreateAttr("FriendlyName", a.Italian)
	}
	addOrganization(root, opts.Organization)
	addContact(root, opts.Contact)

	out, err := signAndSerialize(root, opts.Signing)
	if err != nil {
		return nil, fmt.Errorf("metadata: sign IdP metadata: %w", err)
	}
	return out, nil
}
