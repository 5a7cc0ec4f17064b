package lifecycle_test

import (
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/lifecycle"
	"github.com/spid-idp/spid-idp/storage"
)

// The idCard attribute comes from enrolment forms and operators: any text
// must parse or be refused, never panic, and an accepted date must be the
// document's last field, read in Rome.
func FuzzDocumentExpiry(f *testing.F) {
	for _, s := range []string{
		"cartaIdentita CA00000AA ComuneDiRoma 2020-01-01 2030-01-01",
		"passaporto YA1234567 Questura 2019-02-29 2029-02-28",
		"cartaIdentita CA0 Roma 2020-01-01",
		"", "     ", "a b c d 2030-13-01", "a b c d 2030-02-30", "a b c d 9999-12-31", "a b c d 0000-01-01",
	} {
		f.Add(s)
	}
	rome, _ := time.LoadLocation("Europe/Rome")
	f.Fuzz(func(t *testing.T, card string) {
		exp, ok := lifecycle.DocumentExpiry(storage.Identity{Attributes: map[string]string{"idCard": card}})
		if !ok {
			return
		}
		parts := strings.Fields(card)
		if len(parts) < 5 {
			t.Fatalf("accepted %q with %d parts", card, len(parts))
		}
		if got := exp.In(rome).AddDate(0, 0, -1).Format(time.DateOnly); got != parts[len(parts)-1] {
			t.Fatalf("%q: expiry day %s", card, got)
		}
	})
}
