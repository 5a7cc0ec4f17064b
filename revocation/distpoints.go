package revocation

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"strings"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// distPoint is one CRL distribution point with what crypto/x509 leaves
// out: whether it names a cRLIssuer, i.e. the CRL there is an indirect one
// (RFC 5280 §4.2.1.13, §5.2.5), issued by another authority than the
// certificate's issuer.
type distPoint struct {
	urls     []string
	indirect bool
}

var oidCRLDistributionPoints = asn1.ObjectIdentifier{2, 5, 29, 31}

// distributionPoints reads the certificate's CRL distribution points.
func distributionPoints(cert *x509.Certificate) ([]distPoint, error) {
	var out []distPoint
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(oidCRLDistributionPoints) {
			continue
		}
		val := cryptobyte.String(ext.Value)
		var dps cryptobyte.String
		if !val.ReadASN1(&dps, cbasn1.SEQUENCE) {
			return nil, errMalformedCDP
		}
		for !dps.Empty() {
			var dp cryptobyte.String
			if !dps.ReadASN1(&dp, cbasn1.SEQUENCE) {
				return nil, errMalformedCDP
			}
			var p distPoint
			var name cryptobyte.String
			var hasName bool
			if !dp.ReadOptionalASN1(&name, &hasName, cbasn1.Tag(0).Constructed().ContextSpecific()) {
				return nil, errMalformedCDP
			}
			if hasName {
				var full cryptobyte.String
				var hasFull bool
				if !name.ReadOptionalASN1(&full, &hasFull, cbasn1.Tag(0).Constructed().ContextSpecific()) {
					return nil, errMalformedCDP
				}
				for hasFull && !full.Empty() {
					var gn cryptobyte.String
					var tag cbasn1.Tag
					if !full.ReadAnyASN1(&gn, &tag) {
						return nil, errMalformedCDP
					}
					if tag == cbasn1.Tag(6).ContextSpecific() { // uniformResourceIdentifier
						p.urls = append(p.urls, string(gn))
					}
				}
			}
			// reasons [1]: a CRL partitioned by reason; read like any other.
			if !dp.SkipOptionalASN1(cbasn1.Tag(1).ContextSpecific()) {
				return nil, errMalformedCDP
			}
			p.indirect = dp.PeekASN1Tag(cbasn1.Tag(2).Constructed().ContextSpecific())
			out = append(out, p)
		}
	}
	return out, nil
}

var errMalformedCDP = errors.New("the CRL distribution points extension is malformed")

func isLDAP(u string) bool {
	l := strings.ToLower(u)
	return strings.HasPrefix(l, "ldap://") || strings.HasPrefix(l, "ldaps://")
}
