package conformance

import (
	"fmt"
	"sort"
)

// checklistTitles gives each checklist item the suite evidences a short
// description (paraphrasing spec §8) for the summary table and the report.
var checklistTitles = map[string]string{
	"C001": "metadata is a well-formed, schema-ordered EntityDescriptor",
	"C002": "entityID is an HTTPS URL",
	"C003": "metadata carries a valid enveloped signature by its own key",
	"C004": "metadata signature uses RSA-SHA256+ and SHA-256+",
	"C005": "exactly one IDPSSODescriptor for the SAML 2.0 protocol",
	"C006": "WantAuthnRequestsSigned=\"true\"",
	"C007": "a signing KeyDescriptor with an X509Certificate",
	"C008": "certificates: RSA ≥ 2048, not SHA-1, not expired",
	"C009": "certificate subject follows the AgID IdP profile",
	"C010": "certificate extensions follow the AgID IdP profile",
	"C011": "exactly one NameIDFormat, transient",
	"C012": "SSO on HTTP-Redirect and HTTP-POST, HTTPS, nothing else",
	"C013": "SLO on HTTP-Redirect and HTTP-POST",
	"C014": "declared attributes are SPID names, without xsi:type",
	"C015": "Organization with it-language Name, DisplayName, URL",
	"C016": "endpoints refuse TLS below 1.2",
	"C027": "Redirect without SAMLRequest → page nr04",
	"C028": "Redirect without SigAlg → page nr04",
	"C029": "Redirect without Signature → page nr04",
	"C030": "POST without SAMLRequest → page nr04",
	"C031": "undecodable SAMLRequest → page nr04",
	"C032": "DOCTYPE in the request → page nr04",
	"C033": "oversized request → page nr04",
	"C034": "binding on the wrong HTTP method → page nr06",
	"C035": "Redirect signed with rsa-sha1 → page nr05",
	"C036": "Redirect with an unsupported SigAlg → page nr05",
	"C037": "Redirect signed by an unknown key → page nr05",
	"C038": "RelayState changed after signing → page nr05",
	"C039": "Redirect with and without RelayState is accepted",
	"C040": "lower-case percent-encoding in the signed query is accepted",
	"C041": "unsigned POST request → page nr07",
	"C042": "POST request signed with SHA-1 → page nr07",
	"C043": "POST request tampered after signing → page nr07",
	"C044": "signature not referencing the root → page nr07",
	"C045": "KeyInfo certificate not the metadata one → page nr07",
	"C047": "signed by another SP's key → page nr05/nr07",
	"C048": "Redirect judged on the query signature only",
	"C049": "missing or empty Issuer → page nr10",
	"C050": "unknown Issuer → page nr10",
	"C051": "Issuer Format missing or wrong → page nr10",
	"C052": "Issuer NameQualifier missing → page nr10",
	"C053": "Issuer with surrounding whitespace is accepted",
	"C054": "Version 1.1 → nr09 VersionMismatch",
	"C055": "Version missing → nr09",
	"C056": "ID missing → nr11 without InResponseTo",
	"C057": "ID not an xs:ID → nr11",
	"C058": "replayed ID → nr11",
	"C059": "IssueInstant missing → nr13",
	"C060": "IssueInstant not in UTC → nr13",
	"C061": "IssueInstant 10 min old → nr13",
	"C062": "IssueInstant 10 min ahead → nr13",
	"C063": "IssueInstant 5 s old is accepted",
	"C064": "Destination missing → nr14",
	"C065": "Destination another URL → nr14",
	"C066": "Destination = IdP entityID is accepted",
	"C068": "IsPassive=\"true\" → nr15",
	"C069": "IsPassive=\"false\" is accepted",
	"C070": "no RequestedAuthnContext → nr12",
	"C071": "obsolete or empty class reference → nr12",
	"C072": "non-SPID class reference → nr12",
	"C073": "two class references → nr12",
	"C074": "Comparison absent → nr12",
	"C075": "better than SpidL3 → nr12",
	"C076": "unknown ACS index → nr16 at the default ACS",
	"C077": "ACS index with URL → nr16",
	"C078": "ACS index with ProtocolBinding → nr16",
	"C079": "ACS URL without ProtocolBinding → nr16",
	"C080": "ProtocolBinding without ACS URL → nr16",
	"C081": "no ACS index nor URL → nr16",
	"C082": "ACS URL not in metadata → nr16 at the default ACS",
	"C083": "ProtocolBinding HTTP-Redirect → nr16",
	"C084": "ACS index selects that ACS",
	"C085": "ACS URL + HTTP-POST selects that URL",
	"C086": "no NameIDPolicy → nr17",
	"C087": "NameIDPolicy Format not transient → nr17",
	"C088": "AllowCreate is not an error",
	"C089": "malformed AttributeConsumingServiceIndex → nr18",
	"C090": "unknown AttributeConsumingServiceIndex → nr18",
	"C091": "no AttributeConsumingServiceIndex → no AttributeStatement",
	"C092": "Scoping ProxyCount 1 → nr08",
	"C093": "Scoping ProxyCount 0 is accepted",
	"C094": "Subject with unspecified NameID is accepted",
	"C095": "Subject NameID without NameQualifier → nr08",
	"C096": "Conditions in UTC accepted, malformed → nr08",
	"C097": "unknown spid:Purpose → nr08",
	"C098": "unknown protocol element → nr08",
	"C099": "Comparison outside the schema → nr08",
	"C100": "SpidL2 without ForceAuthn is served",
	"C101": "of two anomalies the earlier one is reported",
	"C102": "Response posted by an HTML form, base64 without breaks, RelayState kept",
	"C103": "no RelayState when none was sent",
	"C104": "Response is well-formed SAML",
	"C105": "Response and Assertion IDs: NCName, distinct, unique",
	"C106": "Version 2.0 on Response and Assertion",
	"C107": "IssueInstant format YYYY-MM-DDThh:mm:ss[.sss]Z",
	"C108": "IssueInstant not before the request, not in the future",
	"C109": "Response InResponseTo = request ID",
	"C110": "Response Destination = ACS",
	"C111": "status Success without nested code",
	"C112": "Response Issuer = IdP entityID, Format entity",
	"C113": "Response and Assertion Issuers identical, no whitespace",
	"C114": "exactly one Assertion, not encrypted, no Advice",
	"C115": "Assertion signed with the metadata key, signature after Issuer",
	"C116": "Response signed with the metadata key, signature after Issuer",
	"C117": "signatures: RSA-SHA256, SHA-256, exc-c14n, two transforms, certificate",
	"C118": "NameID transient with NameQualifier = IdP",
	"C119": "a new NameID at every login",
	"C120": "one bearer SubjectConfirmation",
	"C121": "Recipient = Destination = ACS",
	"C122": "SubjectConfirmationData InResponseTo = request ID",
	"C123": "SubjectConfirmationData NotOnOrAfter in the future, ≤ 5 min",
	"C124": "Assertion Issuer = IdP entityID with Format entity",
	"C125": "Conditions NotBefore ≤ now, NotOnOrAfter > now",
	"C126": "one Audience = SP entityID",
	"C127": "AuthnStatement with a SPID class reference",
	"C128": "SpidL1: SessionIndex present",
	"C129": "SpidL2: no SessionIndex",
	"C130": "exact SpidL2 → SpidL2",
	"C131": "minimum SpidL1 → SpidL1 (or higher)",
	"C132": "better SpidL1 → SpidL2",
	"C133": "level never below the one asked",
	"C134": "exactly the requested attributes",
	"C135": "attributes: NameFormat basic, one non-empty value",
	"C136": "attribute values typed xs:string / xs:date",
	"C137": "attribute value formats (TINIT-, VATIT-, dates…)",
	"C138": "no empty AttributeStatement",
	"C139": "Response built at consent time",
	"C140": "no surrounding whitespace in values",
	"C141": "error Response: signed, Issuer, InResponseTo, Destination, status, ErrorCode, no Assertion",
	"C142": "status URIs spelled urn:oasis:names:tc:SAML:2.0:status:",
	"C143": "repeated wrong password → nr19",
	"C145": "SpidL3 request → nr20",
	"C147": "consent refused → nr22",
	"C148": "consent refused on reuse → nr22, session kept",
	"C151": "login cancelled → nr25",
	"C156": "nr16 goes to the default ACS",
	"C157": "SpidL1 reuse from another SP: consent only, original AuthnInstant",
	"C158": "ForceAuthn asks for credentials again",
	"C159": "SpidL2 during a SpidL1 session asks for credentials",
	"C160": "SpidL2 login creates no session",
	"C161": "better SpidL1 never reuses the session",
	"C163": "consent page names the SP",
	"C166": "Redirect logout → signed LogoutResponse Success",
	"C167": "POST logout → signed LogoutResponse Success",
	"C168": "unsigned LogoutRequest → error page, session kept",
	"C169": "LogoutRequest Issuer without Format → Requester",
	"C170": "LogoutRequest NameID not transient → Requester",
	"C171": "stale LogoutRequest → Requester / RequestDenied",
	"C172": "LogoutRequest Destination = entityID accepted",
	"C173": "LogoutResponse header and Issuer complete",
	"C174": "logout propagated to the other SP",
	"C176": "logout of a closed session → PartialLogout",
	"C177": "logout of a SpidL2 assertion → Success",
	"C178": "after logout credentials are asked again",
	"C180": "Redirect LogoutResponse signed over the query",
}

// ChecklistRow summarises one checklist item over every case that evidenced it.
type ChecklistRow struct {
	ID     string   `json:"id"`
	Title  string   `json:"title"`
	Status Status   `json:"status"`
	Reason string   `json:"reason"`
	Cases  []string `json:"cases"`
}

// summarise folds rows into one line per checklist ID (worst status wins;
// the reason is the worst row's, prefixed with its case).
func summarise(rows []Row) []ChecklistRow {
	idx := map[string]int{}
	var out []ChecklistRow
	for _, r := range rows {
		i, ok := idx[r.ID]
		if !ok {
			i = len(out)
			idx[r.ID] = i
			title := checklistTitles[r.ID]
			if title == "" {
				title = r.Title
			}
			out = append(out, ChecklistRow{ID: r.ID, Title: title, Status: r.Status, Reason: r.Case + ": " + r.Reason})
		} else if r.Status.rank() > out[i].Status.rank() {
			out[i].Status, out[i].Reason = r.Status, r.Case+": "+r.Reason
		}
		if n := len(out[i].Cases); n == 0 || out[i].Cases[n-1] != r.Case {
			out[i].Cases = append(out[i].Cases, r.Case)
		}
	}
	for i := range out {
		if out[i].Status == Pass {
			out[i].Reason = fmt.Sprintf("ok (%d case(s))", len(out[i].Cases))
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out
}
