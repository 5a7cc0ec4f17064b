// Package identity holds the rules every way of creating a SPID identity
// shares (the `user add` command, approval of an enrolment request):
// username and attribute formats, spidCode generation, the level-1
// password policy and provisioning itself, so an identity made by any path
// obeys the same checks.
package identity

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/spid-idp/spid-idp/idp/password"
	"github.com/spid-idp/spid-idp/idp/response"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/storage"
)

// Problems are every reason an input is refused, one line each, naming the
// field and the rule, never a secret value.
type Problems []string

func (p Problems) Error() string { return strings.Join(p, "\n") }

// UsernameRE is the username rule of enrolment-lifecycle.md §3.5, applied
// after lower-casing.
var UsernameRE = regexp.MustCompile(`^[a-z0-9._@-]{3,64}$`)

// SPIDPrefixRE is the shape of the provider's 4-letter spidCode prefix.
var SPIDPrefixRE = regexp.MustCompile(`^[A-Z]{4}$`)

// CheckFiscalCode checks the personal codice fiscale (without TINIT-). It is
// a variable so the full validator of the enrolment work (birth data
// consistency, cadastral codes) can replace the structural check; the check
// character is verified anyway by response.AttributesFor in
// NormaliseAttributes.
var CheckFiscalCode = CheckFiscalCodeShape

var fiscalCodeRE = regexp.MustCompile(`^[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]$`)

// CheckFiscalCodeShape: 16 characters, surname/name letters, year, month
// letter, day, place code, check letter (digits may be omocodia letters).
func CheckFiscalCodeShape(cf string) error {
	if len(cf) != 16 {
		return fmt.Errorf("a codice fiscale has 16 characters, got %d", utf8.RuneCountInString(cf))
	}
	if !fiscalCodeRE.MatchString(cf) {
		return errors.New("not shaped as a codice fiscale (AAAAAA00A00A000A)")
	}
	return nil
}

// NormaliseAttributes checks every attribute and returns them in the form
// they will be asserted (spec saml-profile.md §4.6), using the same
// normalisation the Response builder applies, so an identity that is
// created can always log in. Every invalid attribute is reported.
func NormaliseAttributes(attrs map[string]string) (map[string]string, Problems) {
	var ps Problems
	out := make(map[string]string, len(attrs))
	names := make([]string, 0, len(attrs))
	for k := range attrs {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, name := range names {
		v := strings.TrimSpace(attrs[name])
		if _, ok := metadata.LookupAttribute(name); !ok {
			ps = append(ps, fmt.Sprintf("%s: not a SPID attribute (see spid-idp user add -h)", name))
			continue
		}
		if v == "" {
			continue // absent, never asserted empty
		}
		if name == "fiscalNumber" {
			cf := strings.ToUpper(strings.ReplaceAll(v, " ", ""))
			cf = strings.TrimPrefix(cf, "TINIT-")
			if err := CheckFiscalCode(cf); err != nil {
				ps = append(ps, fmt.Sprintf("fiscalNumber: %v", err))
				continue
			}
		}
		got, err := response.AttributesFor(storage.Identity{Attributes: map[string]string{name: v}},
			[]metadata.RequestedAttribute{{Name: name}})
		if err != nil {
			// The inner error names the rule, never the value.
			if inner := errors.Unwrap(err); inner != nil {
				err = inner
			}
			ps = append(ps, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		if len(got) != 1 {
			ps = append(ps, fmt.Sprintf("%s: cannot be asserted", name))
			continue
		}
		out[name] = got[0].Value
		if name == "mobilePhone" {
			// Kept in E.164 form for the SMS sender; the assertion drops the +.
			out[name] = "+" + got[0].Value
		}
	}
	return out, ps
}

// RequiredAttributes are the attributes an identity of each type must have.
func RequiredAttributes(t storage.IdentityType) []string {
	base := []string{"name", "familyName", "fiscalNumber"}
	switch t {
	case storage.IdentityLegalPerson, storage.IdentityProfessionalForLegal:
		return append(base, "companyName")
	}
	return base
}

// NewUser is what provisioning needs for one identity.
type NewUser struct {
	Username   string
	Type       storage.IdentityType
	Attributes map[string]string // SPID attribute name -> value as given
	Password   string
}

// Provision validates u and creates the active identity and its
// credential. spidPrefix is the provider's 4-letter code for a generated
// spidCode. Invalid input is reported as Problems.
func Provision(ctx context.Context, st storage.Store, u NewUser, spidPrefix string, params password.Params, now time.Time) (storage.Identity, error) {
	var ps Problems
	username := strings.ToLower(strings.TrimSpace(u.Username))
	if !UsernameRE.MatchString(username) {
		ps = append(ps, "username: 3 to 64 characters among a-z 0-9 . _ @ -")
	}
	if u.Type < storage.IdentityCitizen || u.Type > storage.IdentityProfessionalForLegal {
		ps = append(ps, fmt.Sprintf("type: must be 1 to 4, got %d", u.Type))
	}
	attrs, aps := NormaliseAttributes(u.Attributes)
	ps = append(ps, aps...)
	for _, name := range RequiredAttributes(u.Type) {
		if strings.TrimSpace(u.Attributes[name]) == "" {
			ps = append(ps, fmt.Sprintf("%s: required for an identity of type %d", name, u.Type))
		}
	}
	if attrs["spidCode"] == "" && !SPIDPrefixRE.MatchString(spidPrefix) {
		ps = append(ps, fmt.Sprintf("spidCode prefix %q: must be the 4 upper-case letters AgID assigned to the provider", spidPrefix))
	}
	ps = append(ps, CheckPassword(u.Password, username, attrs)...)
	if len(ps) > 0 {
		return storage.Identity{}, ps
	}

	// Uniqueness the store cannot enforce: spidCode is never reused (REG
	// art. 14) and one person holds one identity of each type here.
	all, err := st.ListIdentities(ctx)
	if err != nil {
		return storage.Identity{}, fmt.Errorf("listing identities: %w", err)
	}
	if attrs["spidCode"] == "" {
		if attrs["spidCode"], err = NewSPIDCode(spidPrefix, all); err != nil {
			return storage.Identity{}, err
		}
	}
	for _, o := range all {
		if o.Attributes["spidCode"] == attrs["spidCode"] {
			ps = append(ps, fmt.Sprintf("spidCode: already issued to %s", o.Username))
		}
		if o.Type == u.Type && o.Status != storage.IdentityRevoked && o.Attributes["fiscalNumber"] == attrs["fiscalNumber"] {
			ps = append(ps, fmt.Sprintf("fiscalNumber: %s already holds an identity of type %d with it", o.Username, u.Type))
		}
	}
	if len(ps) > 0 {
		return storage.Identity{}, ps
	}

	hash, err := password.Hash(u.Password, params)
	if err != nil {
		return storage.Identity{}, fmt.Errorf("hashing the password: %w", err)
	}
	id := storage.Identity{
		ID: uuid.NewString(), Username: username, Type: u.Type, Status: storage.IdentityActive,
		Attributes: attrs, CreatedAt: now, UpdatedAt: now,
	}
	if err := st.CreateIdentity(ctx, id); errors.Is(err, storage.ErrAlreadyExists) {
		return storage.Identity{}, Problems{fmt.Sprintf("username: %s is taken", username)}
	} else if err != nil {
		return storage.Identity{}, fmt.Errorf("creating the identity: %w", err)
	}
	if err := st.CreateCredential(ctx, storage.Credential{IdentityID: id.ID, PasswordHash: hash, PasswordSetAt: now, UpdatedAt: now}); err != nil {
		// Do not leave an identity nobody can log in to.
		if derr := st.DeleteIdentity(ctx, id.ID); derr != nil {
			err = errors.Join(err, fmt.Errorf("removing the half-created identity %s: %w", id.ID, derr))
		}
		return storage.Identity{}, fmt.Errorf("creating the credential: %w", err)
	}
	return id, nil
}

// NewSPIDCode draws prefix + 10 characters [A-Z0-9] from crypto/rand
// (enrolment-lifecycle.md §3.5), avoiding codes already issued (revoked
// identities included: a spidCode is never reused).
func NewSPIDCode(prefix string, existing []storage.Identity) (string, error) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	used := make(map[string]bool, len(existing))
	for _, o := range existing {
		used[o.Attributes["spidCode"]] = true
	}
	for range 10 {
		s, err := RandomString(alphabet, 10)
		if err != nil {
			return "", err
		}
		if !used[prefix+s] {
			return prefix + s, nil
		}
	}
	return "", errors.New("spidCode: no free code found") // 36^10 codes: never in practice
}

// RandomString draws n characters of alphabet uniformly from crypto/rand.
func RandomString(alphabet string, n int) (string, error) {
	b := make([]byte, n)
	max := big.NewInt(int64(len(alphabet)))
	for i := range b {
		x, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", fmt.Errorf("random: %w", err)
		}
		b[i] = alphabet[x.Int64()]
	}
	return string(b), nil
}

// Messages of CheckPassword, one per rule (E059–E061), so callers and tests
// can tell them apart.
const (
	PasswordLength   = "password: must have 8 to 64 characters"
	PasswordControl  = "password: must not contain control characters"
	PasswordClasses  = "password: needs an upper-case letter, a lower-case letter, a digit and a special character"
	PasswordRepeats  = "password: must not repeat a character more than twice in a row"
	PasswordPersonal = "password: must not contain the username, name, surname, fiscal code or birth date"
)

// CheckPassword applies the level-1 password rules of
// enrolment-lifecycle.md §7.2 that need no history: length, character
// classes, repetition, and no personal data. The password is never part
// of a message.
func CheckPassword(pw, username string, attrs map[string]string) Problems {
	var ps Problems
	n := utf8.RuneCountInString(pw)
	if n < 8 || n > 64 {
		ps = append(ps, fmt.Sprintf("%s, has %d", PasswordLength, n))
	}
	var upper, lower, digit, special, control bool
	run, prev := 0, rune(-1)
	tripled := false
	for _, r := range pw {
		switch {
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsLower(r):
			lower = true
		case unicode.IsDigit(r):
			digit = true
		case unicode.IsControl(r):
			control = true
		default:
			special = true
		}
		if r == prev {
			run++
		} else {
			run, prev = 1, r
		}
		if run > 2 {
			tripled = true
		}
	}
	if control {
		ps = append(ps, PasswordControl)
	}
	if !upper || !lower || !digit || !special {
		ps = append(ps, PasswordClasses)
	}
	if tripled {
		ps = append(ps, PasswordRepeats)
	}
	low := strings.ToLower(pw)
	var personal []string
	personal = append(personal, username)
	if at := strings.IndexByte(username, '@'); at >= 3 {
		personal = append(personal, username[:at])
	}
	for _, k := range []string{"name", "familyName"} {
		personal = append(personal, attrs[k])
		personal = append(personal, strings.Fields(attrs[k])...)
	}
	if cf := strings.TrimPrefix(attrs["fiscalNumber"], "TINIT-"); cf != "" {
		personal = append(personal, cf)
	}
	if d, err := time.Parse(time.DateOnly, attrs["dateOfBirth"]); err == nil {
		personal = append(personal, d.Format("2006"), d.Format("0201"), d.Format("02012006"), d.Format(time.DateOnly))
	}
	for _, p := range personal {
		if len(p) >= 3 && strings.Contains(low, strings.ToLower(p)) {
			ps = append(ps, PasswordPersonal)
			break
		}
	}
	return ps
}

// GeneratePassword makes a 20-character password that passes
// CheckPassword, from an alphabet without look-alike characters.
func GeneratePassword(username string, attrs map[string]string) (string, error) {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789-_.!?%+="
	for {
		pw, err := RandomString(alphabet, 20)
		if err != nil {
			return "", err
		}
		if len(CheckPassword(pw, username, attrs)) == 0 {
			return pw, nil
		}
	}
}
