package enrolment

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/spid-idp/spid-idp/evidence"
	"github.com/spid-idp/spid-idp/revocation"
)

// Identity types, paths and order types of §3.1.
const (
	TypePersonal          = "personal"
	TypeProfessional      = "professional"
	TypeProfessionalLegal = "professional_legal"

	PathCNS                   = "cns"
	PathCIE                   = "cie"
	PathSignature             = "signature"
	PathVideo                 = "video"
	PathShop                  = "shop"
	PathCounter               = "counter"
	PathCounterPublicOfficial = "counter_public_official"

	OrderNew     = "new"
	OrderRenewal = "renewal"
)

// automaticPaths are recognised by the system (certificate or signature),
// not by a person: their recogniser is "system".
var automaticPaths = map[string]bool{PathCNS: true, PathCIE: true, PathSignature: true}

var identityTypes = []string{TypePersonal, TypeProfessional, TypeProfessionalLegal}

var paths = []string{PathCNS, PathCIE, PathSignature, PathVideo, PathShop, PathCounter, PathCounterPublicOfficial}

// Applicant is the person of §3.2, as typed (normalised on the way in).
type Applicant struct {
	Name           string `json:"name"`
	FamilyName     string `json:"family_name"`
	FiscalNumber   string `json:"fiscal_number"` // 16 characters, no TINIT-
	DateOfBirth    string `json:"date_of_birth"` // YYYY-MM-DD
	PlaceOfBirth   string `json:"place_of_birth"`
	CountyOfBirth  string `json:"county_of_birth"`
	Gender         string `json:"gender"`
	Email          string `json:"email"`
	MobilePhone    string `json:"mobile_phone"` // E.164
	Address        string `json:"address,omitempty"`
	DigitalAddress string `json:"digital_address,omitempty"`
	IvaCode        string `json:"iva_code,omitempty"` // professional: VATIT- + 11 digits
}

// Document is the identity document of §3.3.
type Document struct {
	Type   string `json:"type"`
	Number string `json:"number"`
	Issuer string `json:"issuer"` // token released in idCard: ComuneRoma
	// IssuerName is the issuer as the applicant typed it ("Comune di Roma").
	IssuerName string `json:"issuer_name,omitempty"`
	IssueDate  string `json:"issue_date"`  // YYYY-MM-DD
	ExpiryDate string `json:"expiry_date"` // YYYY-MM-DD
}

// Company is the legal person of a professional_legal request (§3.4).
type Company struct {
	Name             string `json:"name"`
	FiscalNumber     string `json:"fiscal_number"`
	IvaCode          string `json:"iva_code,omitempty"`
	RegisteredOffice string `json:"registered_office,omitempty"`
}

// Consent is one acceptance recorded with its time and IP (E021).
type Consent struct {
	Kind    string    `json:"kind"` // privacy, terms, declaration_art76, video_recording, access_notifications
	Version string    `json:"version,omitempty"`
	Value   string    `json:"value,omitempty"` // the choice, for access_notifications
	At      time.Time `json:"at"`
	IP      string    `json:"ip"`
}

// Payment of a paid offer (§3.1).
type Payment struct {
	Amount    int64     `json:"amount"` // euro cents
	State     string    `json:"state"`  // pending, paid
	Method    string    `json:"method,omitempty"`
	Reference string    `json:"reference,omitempty"` // provider transaction or bank transfer reference
	PaidAt    time.Time `json:"paid_at,omitzero"`
}

// Recognition is who recognised the applicant and how (§3.1).
type Recognition struct {
	By        string          `json:"by"` // operator ID, or "system"
	At        time.Time       `json:"at"`
	ShopID    string          `json:"shop_id,omitempty"`
	Method    string          `json:"method"` // LG-STAT T2 code (§12.5)
	Checklist map[string]bool `json:"checklist,omitempty"`
	// Revocation is the OCSP/CRL status of the card's or signer's
	// certificates at recognition (automatic paths).
	Revocation []revocation.Result `json:"revocation,omitempty"`
}

// Verification is the verifier's §6.1 checklist: every item pass/fail,
// who and when.
type Verification struct {
	By    string          `json:"by"`
	At    time.Time       `json:"at"`
	Items map[string]bool `json:"items"`
}

// Request is the body of an enrolment (storage.Enrolment.Data). The state,
// code, path, type, CF and clock columns live in storage.Enrolment.
type Request struct {
	OrderType  string    `json:"order_type"`
	StateSince time.Time `json:"state_since"` // when the current state was entered (timers)

	Applicant *Applicant `json:"applicant,omitempty"`
	Document  *Document  `json:"document,omitempty"`
	Company   *Company   `json:"company,omitempty"`

	// The address and number that were verified: changing them afterwards
	// voids the proof.
	EmailVerified    string    `json:"email_verified,omitempty"`
	EmailVerifiedAt  time.Time `json:"email_verified_at,omitzero"`
	MobileVerified   string    `json:"mobile_verified,omitempty"`
	MobileVerifiedAt time.Time `json:"mobile_verified_at,omitzero"`

	Consents        []Consent `json:"consents,omitempty"`
	RequestSignedAt time.Time `json:"request_signed_at,omitzero"`

	Payment     *Payment     `json:"payment,omitempty"`
	Recognition *Recognition `json:"recognition,omitempty"`
	// Attempts are the refused recognition attempts (cards, signed files).
	Attempts []Attempt       `json:"attempts,omitempty"`
	Evidence []evidence.Item `json:"evidence,omitempty"` // references; the blobs are in the evidence store

	PausedAt    time.Time     `json:"paused_at,omitzero"`
	PausedTotal time.Duration `json:"paused_total,omitempty"`

	ClaimedBy    string    `json:"claimed_by,omitempty"`
	ClaimedUntil time.Time `json:"claimed_until,omitzero"`

	Verification       *Verification `json:"verification,omitempty"`
	DocumentsRequested []string      `json:"documents_requested,omitempty"`
	DecidedBy          string        `json:"decided_by,omitempty"`
	DecidedAt          time.Time     `json:"decided_at,omitzero"`
	Reasons            []Reason      `json:"reasons,omitempty"`
	IdentityID         string        `json:"identity_id,omitempty"`
	// Recheck marks an approval drawn for the supervisors' sampled
	// re-check (5 %, ui.md §9.3).
	Recheck bool `json:"recheck,omitempty"`
}

// Decode reads the request body of e.
func Decode(data []byte) (*Request, error) {
	var r Request
	if len(data) == 0 {
		return &r, nil
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("enrolment: stored request: %w", err)
	}
	return &r, nil
}

func (r *Request) encode() []byte {
	b, err := json.Marshal(r)
	if err != nil {
		// Only strings, times and maps of bools: always marshals.
		panic("enrolment: marshal request: " + err.Error())
	}
	return b
}

// HasEvidence reports whether an item of kind is attached.
func (r *Request) HasEvidence(kind string) bool {
	for _, e := range r.Evidence {
		if e.Kind == kind {
			return true
		}
	}
	return false
}

// consent returns the recorded consent of kind.
func (r *Request) consent(kind string) (Consent, bool) {
	for _, c := range r.Consents {
		if c.Kind == kind {
			return c, true
		}
	}
	return Consent{}, false
}

// FormatCode shows a request code as XXXXX-XXXXX (§3.1).
func FormatCode(code string) string {
	if len(code) != 10 {
		return code
	}
	return code[:5] + "-" + code[5:]
}

// NormaliseCode accepts a code as typed (lower case, with the dash or
// spaces, and the look-alikes Crockford maps: O→0, I/L→1).
func NormaliseCode(s string) string {
	s = strings.ToUpper(strings.NewReplacer("-", "", " ", "").Replace(strings.TrimSpace(s)))
	return strings.NewReplacer("O", "0", "I", "1", "L", "1").Replace(s)
}

// crockford is Crockford's base32 alphabet: no I, L, O, U.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// issuerSkip are the articles, prepositions and conjunctions the idCard
// issuer token leaves out (§3.3: "Comune di Roma" → ComuneRoma).
var issuerSkip = map[string]bool{"il": true, "lo": true, "la": true, "i": true, "gli": true, "le": true, "l": true,
	"di": true, "del": true, "dello": true, "della": true, "dei": true, "degli": true, "delle": true, "dell": true, "d": true,
	"a": true, "al": true, "allo": true, "alla": true, "ai": true, "agli": true, "alle": true, "all": true, "ad": true,
	"da": true, "dal": true, "dallo": true, "dalla": true, "dai": true, "dagli": true, "dalle": true, "dall": true,
	"in": true, "nel": true, "nello": true, "nella": true, "nei": true, "negli": true, "nelle": true, "nell": true,
	"su": true, "sul": true, "sulla": true, "per": true, "con": true, "e": true, "ed": true, "o": true}

// IssuerToken is the one-word issuer of the idCard attribute (§3.3): the
// words of name without articles, prepositions and conjunctions, each
// capitalised and joined ("Ministero dell'Economia e delle Finanze" →
// MinisteroEconomiaFinanze). A name that is already one token is kept.
func IssuerToken(name string) string {
	var b strings.Builder
	for _, w := range strings.FieldsFunc(name, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}) {
		if issuerSkip[strings.ToLower(w)] && b.Len() > 0 {
			continue
		}
		rs := []rune(w)
		rs[0] = unicode.ToUpper(rs[0])
		b.WriteString(string(rs))
	}
	return b.String()
}
