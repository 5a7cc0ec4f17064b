package metadata

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/keys"
	"github.com/spid-idp/spid-idp/xmlsig"
)

// NSFPA is the SPID invoicing-extensions namespace (billing contacts).
const NSFPA = "https://spid.gov.it/invoicing-extensions"

// Organization is md:Organization in one language.
type Organization struct {
	Name        string // legal name, as in public registers
	DisplayName string // short name shown to users
	URL         string
}

// Contact is the md:ContactPerson contactType="other" with its spid:
// extensions (spec §1.4).
type Contact struct {
	Public     bool   // spid:Public; otherwise spid:Private
	IPACode    string // public bodies only
	VATNumber  string // "IT" + 11 digits
	FiscalCode string
	Email      string // a role mailbox
	Telephone  string // "+39…", no spaces
}

var (
	vatNumberRE = regexp.MustCompile(`^[A-Z]{2}[0-9A-Za-z]{2,28}$`)
	telephoneRE = regexp.MustCompile(`^\+?[0-9]{4,20}$`)
)

// newID returns an XML ID: "_" + 32 random hex digits (NCName-safe).
func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "_" + hex.EncodeToString(b[:]), nil
}

// FormatTime is the SAML timestamp form we emit (spec §0): UTC, three
// fraction digits.
func FormatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// FormatDuration writes d as an xs:duration ("P30D", "PT12H", "P1DT2H3M4.5S").
func FormatDuration(d time.Duration) string {
	if d == 0 {
		return "PT0S"
	}
	var b strings.Builder
	if d < 0 {
		b.WriteByte('-')
		d = -d
	}
	b.WriteByte('P')
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	if days > 0 {
		b.WriteString(strconv.FormatInt(int64(days), 10) + "D")
	}
	if d > 0 {
		b.WriteByte('T')
		h := d / time.Hour
		d -= h * time.Hour
		m := d / time.Minute
		d -= m * time.Minute
		if h > 0 {
			b.WriteString(strconv.FormatInt(int64(h), 10) + "H")
		}
		if m > 0 {
			b.WriteString(strconv.FormatInt(int64(m), 10) + "M")
		}
		if d > 0 {
			b.WriteString(strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "S")
		}
	}
	return b.String()
}

func checkAbsURL(what, s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%s %q: %w", what, s, err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Fragment != "" {
		return fmt.Errorf("%s %q: want an absolute http(s) URL without userinfo or fragment", what, s)
	}
	return nil
}

func checkOrganization(org map[string]Organization) error {
	if _, ok := org["it"]; !ok {
		return errors.New(`organization: language "it" is required`)
	}
	var errs []error
	for lang, o := range org {
		if lang == "" {
			errs = append(errs, errors.New("organization: empty language"))
		}
		if o.Name == "" || o.DisplayName == "" {
			errs = append(errs, fmt.Errorf("organization[%s]: name and display name are required", lang))
		}
		if err := checkAbsURL("organization["+lang+"] URL", o.URL); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func checkContact(c Contact) error {
	var errs []error
	if c.Email == "" {
		errs = append(errs, errors.New("contact: e-mail is required"))
	}
	if c.Telephone != "" && !telephoneRE.MatchString(c.Telephone) {
		errs = append(errs, fmt.Errorf("contact: telephone %q: digits only, optional leading +, no spaces", c.Telephone))
	}
	if c.VATNumber != "" && !vatNumberRE.MatchString(c.VATNumber) {
		errs = append(errs, fmt.Errorf("contact: VAT number %q: want country code and number, e.g. IT01234567890", c.VATNumber))
	}
	if c.Public && c.IPACode == "" {
		errs = append(errs, errors.New("contact: a public body needs its IPA code"))
	}
	if !c.Public && c.VATNumber == "" && c.FiscalCode == "" {
		errs = append(errs, errors.New("contact: a private subject needs a VAT number or fiscal code"))
	}
	return errors.Join(errs...)
}

// sortedLangs returns the languages of org with "it" first.
func sortedLangs(org map[string]Organization) []string {
	langs := make([]string, 0, len(org))
	for l := range org {
		langs = append(langs, l)
	}
	sort.Slice(langs, func(i, j int) bool {
		if (langs[i] == "it") != (langs[j] == "it") {
			return langs[i] == "it"
		}
		return langs[i] < langs[j]
	})
	return langs
}

func addOrganization(root *etree.Element, org map[string]Organization) {
	o := root.CreateElement("md:Organization")
	langs := sortedLangs(org)
	// The XSD wants all names, then all display names, then all URLs.
	for _, part := range []struct {
		tag string
		get func(Organization) string
	}{
		{"md:OrganizationName", func(o Organization) string { return o.Name }},
		{"md:OrganizationDisplayName", func(o Organization) string { return o.DisplayName }},
		{"md:OrganizationURL", func(o Organization) string { return o.URL }},
	} {
		for _, l := range langs {
			e := o.CreateElement(part.tag)
			e.CreateAttr("xml:lang", l)
			e.SetText(part.get(org[l]))
		}
	}
}

func addContact(root *etree.Element, c Contact) {
	cp := root.CreateElement("md:ContactPerson")
	cp.CreateAttr("contactType", "other")
	ext := cp.CreateElement("md:Extensions")
	// spid.xsd order: IPACode, VATNumber, FiscalCode, then Public|Private.
	if c.IPACode != "" {
		ext.CreateElement("spid:IPACode").SetText(c.IPACode)
	}
	if c.VATNumber != "" {
		ext.CreateElement("spid:VATNumber").SetText(c.VATNumber)
	}
	if c.FiscalCode != "" {
		ext.CreateElement("spid:FiscalCode").SetText(c.FiscalCode)
	}
	if c.Public {
		ext.CreateElement("spid:Public")
	} else {
		ext.CreateElement("spid:Private")
	}
	cp.CreateElement("md:EmailAddress").SetText(c.Email)
	if c.Telephone != "" {
		cp.CreateElement("md:TelephoneNumber").SetText(c.Telephone)
	}
}

func addKeyDescriptor(parent *etree.Element, p keys.Pair) {
	kd := parent.CreateElement("md:KeyDescriptor")
	kd.CreateAttr("use", "signing")
	kd.CreateElement("ds:KeyInfo").CreateElement("ds:X509Data").CreateElement("ds:X509Certificate").
		SetText(base64.StdEncoding.EncodeToString(p.Cert.Raw))
}

func checkPair(what string, p keys.Pair) error {
	if p.Key == nil || p.Cert == nil {
		return fmt.Errorf("%s: key pair is incomplete", what)
	}
	if err := keys.CheckStrength(p.Cert); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// signAndSerialize signs root as the first child and writes the document
// compactly; nothing may re-indent it afterwards.
func signAndSerialize(root *etree.Element, pair keys.Pair) ([]byte, error) {
	if err := xmlsig.Sign(root, pair, ""); err != nil {
		return nil, err
	}
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	doc.SetRoot(root)
	return doc.WriteToBytes()
}

// newEntityDescriptor makes the root with the namespaces the profile uses.
func newEntityDescriptor(entityID string) (*etree.Element, error) {
	id, err := newID()
	if err != nil {
		return nil, err
	}
	root := etree.NewElement("md:EntityDescriptor")
	root.CreateAttr("xmlns:md", spid.NSMetadata)
	root.CreateAttr("xmlns:ds", spid.NSDSig)
	root.CreateAttr("xmlns:spid", spid.NSSPID)
	root.CreateAttr("entityID", entityID)
	root.CreateAttr("ID", id)
	return root, nil
}
