package legal

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func params() Params {
	return Params{Controller: map[string]string{"it": "Esempio S.p.A.", "en": "Example S.p.A."}, ControllerURL: "https://idp.example.it",
		DPO: "dpo@example.it", Care: "https://idp.example.it/care/tickets/new", Updated: "07/12/2026", Responsible: map[string]string{"it": "Maria Bianchi"}}
}

// The built-in texts exist in both languages, are complete (every
// placeholder filled) and differ in version by language and by content.
func TestDefaults(t *testing.T) {
	tx, err := Load("", params())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, kind := range Kinds {
		for _, lang := range Languages {
			d, ok := tx.Get(kind, lang)
			if !ok || d.Title == "" || len(d.Blocks) < 4 {
				t.Fatalf("%s.%s: %+v", kind, lang, d)
			}
			if !strings.HasPrefix(d.Version, "sha256:") || len(d.Version) != len("sha256:")+16 {
				t.Errorf("%s.%s: version %q", kind, lang, d.Version)
			}
			if other, dup := seen[d.Version]; dup {
				t.Errorf("%s.%s has the version of %s", kind, lang, other)
			}
			seen[d.Version] = kind + "." + lang
			var all strings.Builder
			for _, b := range d.Blocks {
				all.WriteString(b.Heading + b.Paragraph + strings.Join(b.Items, ""))
			}
			text := all.String()
			if strings.ContainsAny(text, "{}") {
				t.Errorf("%s.%s: placeholder left: %s", kind, lang, placeholder.FindString(text))
			}
			if !strings.Contains(text, "Esempio S.p.A.") && !strings.Contains(text, "Example S.p.A.") {
				t.Errorf("%s.%s does not name the controller", kind, lang)
			}
		}
	}
	// The privacy notice has what the issue lists.
	d, _ := tx.Get(Privacy, "it")
	var all strings.Builder
	for _, b := range d.Blocks {
		all.WriteString(b.Heading + " " + b.Paragraph + " " + strings.Join(b.Items, " ") + "\n")
	}
	for _, want := range []string{"titolare", "finalità", "base giuridica", "20 anni", "24 mesi", "30 giorni", "10 anni", "diritti", "dpo@example.it", "Garante"} {
		if !strings.Contains(all.String(), want) {
			t.Errorf("privacy notice lacks %q", want)
		}
	}
	if v, w := tx.Version(Privacy, "it"), tx.Version(Privacy, "fr"); v != w {
		t.Errorf("unknown language: version %q, want the Italian %q", w, v)
	}
	p := params()
	p.DPO = "privacy@other.example"
	tx2, err := Load("", p)
	if err != nil {
		t.Fatal(err)
	}
	if tx2.Version(Privacy, "it") == tx.Version(Privacy, "it") || tx2.Version(Terms, "it") != tx.Version(Terms, "it") {
		t.Error("a version must change exactly when the text read changes")
	}
}

// The operator's files replace the defaults one by one; every bad file is
// reported at once.
func TestOperatorDir(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("terms.it.txt", "# Condizioni\n\n## Primo\n\nTesto di {controller}, vedi https://www.example.it/x.\n\n- uno\n- due\n  continua\n")
	tx, err := Load(dir, params())
	if err != nil {
		t.Fatal(err)
	}
	d, _ := tx.Get(Terms, "it")
	if d.Title != "Condizioni" || len(d.Blocks) != 3 || d.Blocks[1].Paragraph != "Testo di Esempio S.p.A., vedi https://www.example.it/x." ||
		len(d.Blocks[2].Items) != 2 || d.Blocks[2].Items[1] != "due continua" {
		t.Fatalf("parsed %+v", d)
	}
	if def, _ := tx.Get(Terms, "en"); def.Title != "Terms of service" {
		t.Errorf("English default replaced: %q", def.Title)
	}
	write("privacy.it.txt", "no title here\n")
	write("privacy.en.txt", "# Notice\n\nWrite to {nobody}.\n")
	_, err = Load(dir, params())
	if err == nil || !strings.Contains(err.Error(), "privacy.it.txt: the first line must be the title") || !strings.Contains(err.Error(), "privacy.en.txt: unknown placeholder {nobody}") {
		t.Fatalf("err = %v", err)
	}
}

func TestSpans(t *testing.T) {
	s := Spans("Scrivi a https://a.example/care/tickets/new. Oppure www.garanteprivacy.it, grazie.")
	if len(s) != 5 || s[1].URL != "https://a.example/care/tickets/new" || s[2].Text != ". Oppure " || s[3].URL != "https://www.garanteprivacy.it" || s[4].Text != ", grazie." {
		t.Fatalf("%+v", s)
	}
}
