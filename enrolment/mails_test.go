package enrolment

import (
	"strings"
	"testing"
	"time"
)

// The outcome e-mails name the person responsible for identity
// verification (DPCM art. 7 c.1) in both of their languages: one line
// when the name is the same, one per language when the English one is a
// translated title.
func TestOutcomeMailFooter(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    Responsible
		want []string
		not  []string
	}{
		{"none", Responsible{}, nil, []string{"Responsabile", "Responsible"}},
		{"same name", Responsible{IT: "Dott.ssa Anna Verdi"},
			[]string{"Responsabile della verifica dell'identità / Responsible for identity verification: Dott.ssa Anna Verdi\n"}, nil},
		{"English title", Responsible{IT: "Responsabile della verifica (demo)", EN: "Identity verification officer (demo)"},
			[]string{"Responsabile della verifica dell'identità: Responsabile della verifica (demo)\n",
				"Responsible for identity verification: Identity verification officer (demo)\n"},
			[]string{"/ Responsible"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, text := range []string{
				approvedText("ABC123", "https://idp.example/activate?x", time.Date(2027, 1, 8, 10, 0, 0, 0, time.UTC), tc.r),
				rejectedText("ABC123", nil, "https://idp.example/correct?x", tc.r),
			} {
				for _, w := range tc.want {
					if !strings.Contains(text, w) {
						t.Errorf("missing %q in:\n%s", w, text)
					}
				}
				for _, n := range tc.not {
					if strings.Contains(text, n) {
						t.Errorf("unexpected %q in:\n%s", n, text)
					}
				}
			}
		})
	}
}
