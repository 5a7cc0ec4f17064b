package enrolment

import "testing"

func TestIssuerToken(t *testing.T) {
	for in, want := range map[string]string{
		"Comune di Roma":                          "ComuneRoma",
		"comune di  Reggio nell'Emilia":           "ComuneReggioEmilia",
		"Ministero dell'Economia e delle Finanze": "MinisteroEconomiaFinanze",
		"Questura di Livorno":                     "QuesturaLivorno",
		"ComuneMilano":                            "ComuneMilano",
		"MCTC":                                    "MCTC",
		"Prefettura di L'Aquila":                  "PrefetturaAquila",
	} {
		if got := IssuerToken(in); got != want {
			t.Errorf("IssuerToken(%q) = %q, want %q", in, got, want)
		}
	}
}
