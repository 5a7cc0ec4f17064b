package identity

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spid-idp/spid-idp/storage"
)

// E015: prefix + 10 [A-Z0-9], distinct over 10,000 draws, never an issued one.
func TestE015SPIDCode(t *testing.T) {
	re := regexp.MustCompile(`^TEST[A-Z0-9]{10}$`)
	seen := map[string]bool{}
	var issued []storage.Identity
	for range 10000 {
		c, err := NewSPIDCode("TEST", issued[:min(len(issued), 50)])
		if err != nil {
			t.Fatal(err)
		}
		if !re.MatchString(c) {
			t.Fatalf("spidCode %q does not match %s", c, re)
		}
		if seen[c] {
			t.Fatalf("spidCode %q drawn twice", c)
		}
		seen[c] = true
		if len(issued) < 50 {
			issued = append(issued, storage.Identity{Status: storage.IdentityRevoked, Attributes: map[string]string{"spidCode": c}})
		}
	}
}

// E059–E061: each rule has its own message.
func TestE059E060E061PasswordPolicy(t *testing.T) {
	attrs := map[string]string{"name": "Mario", "familyName": "Rossi", "fiscalNumber": "TINIT-RSSMRA80A01H501U", "dateOfBirth": "1980-01-31"}
	for _, tc := range []struct {
		pw   string
		want []string
	}{
		{"Ab1!xyz", []string{PasswordLength}},
		{strings.Repeat("Ab1!", 16) + "x", []string{PasswordLength}},
		{"abcdefg1!", []string{PasswordClasses}},
		{"ABCDEFG1!", []string{PasswordClasses}},
		{"Abcdefgh!", []string{PasswordClasses}},
		{"Abcdefgh1", []string{PasswordClasses}},
		{"Abbbcd1!x", []string{PasswordRepeats}},
		{"Abbcd1!xy", nil}, // two identical are fine
		{"Mario-Pw-91x", []string{PasswordPersonal}},
		{"x-Rossi-91!A", []string{PasswordPersonal}},
		{"Ab1!RSSMRA80A01H501U", []string{PasswordPersonal}},
		{"Born-1980-Xy", []string{PasswordPersonal}},
		{"Born-3101-Xy", []string{PasswordPersonal}},
		{"Born-31011980-Xy", []string{PasswordPersonal}},
		{"Xy!1980-01-31", []string{PasswordPersonal}},
		{"Mrossi-Login-9", []string{PasswordPersonal}}, // the username
		{"Ab1!\x07defgh", []string{PasswordControl}},
		{"Tre-Ok-1234!aBc", nil},
	} {
		var got []string
		for _, p := range CheckPassword(tc.pw, "mrossi", attrs) {
			got = append(got, strings.SplitN(p, ", has", 2)[0])
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%q: problems %q, want %q", tc.pw, got, tc.want)
		}
	}
}
