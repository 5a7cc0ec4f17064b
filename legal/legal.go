// Package legal holds the texts a citizen reads and accepts: the privacy
// notice, the accessibility statement and the terms of service (issue 12,
// ui.md §3 footer, enrolment-lifecycle.md E021). Each comes in Italian and
// English, from the operator's directory when it holds one, else from the
// defaults embedded here; placeholders ({controller}, {dpo}, ...) are
// filled from the configuration. A text's Version is a hash of what the
// citizen reads, so a consent records exactly the text accepted.
//
// The text format is plain: the first line "# Title", then blocks
// separated by blank lines; a block starting "## " is a heading, lines
// starting "- " are list items, anything else is a paragraph. Pages render
// it as text only (html/template escaping), never as markup.
package legal

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// The documents.
const (
	Privacy       = "privacy"
	Accessibility = "accessibility"
	Terms         = "terms"
)

// Kinds lists the documents in footer order.
var Kinds = []string{Privacy, Accessibility, Terms}

// Languages the texts exist in.
var Languages = []string{"it", "en"}

//go:embed texts/*.txt
var defaults embed.FS

// Params fill the placeholders of the texts.
type Params struct {
	// Controller is the data controller's legal name per language
	// ({controller}); ControllerURL its site ({controller_url}).
	Controller    map[string]string
	ControllerURL string
	// DPO is how to reach the data-protection officer ({dpo}): an e-mail
	// address or a postal address. Empty: the texts say to write to the
	// care desk.
	DPO string
	// Care is the address of the care desk's request form ({care}).
	Care string
	// Updated is the date of the texts, dd/mm/yyyy ({updated}).
	Updated string
	// Responsible is the person responsible for identity verification
	// ({responsible}) per language, like Controller.
	Responsible map[string]string
}

// Block is one block of a text: a heading, a paragraph or a list.
type Block struct {
	Heading   string
	Paragraph string
	Items     []string
}

// Doc is one document in one language.
type Doc struct {
	Kind, Lang, Title string
	Blocks            []Block
	// Version identifies the exact text: "sha256:" and 16 hex digits of
	// the hash of the filled-in text.
	Version string
}

// Texts are every document in every language.
type Texts struct {
	docs map[string]Doc // kind + "." + lang
}

// Get returns the document kind in lang (Italian when lang is unknown).
func (t *Texts) Get(kind, lang string) (Doc, bool) {
	d, ok := t.docs[kind+"."+lang]
	if !ok {
		d, ok = t.docs[kind+".it"]
	}
	return d, ok
}

// Version is the version of kind in lang, "" for an unknown kind.
func (t *Texts) Version(kind, lang string) string {
	d, _ := t.Get(kind, lang)
	return d.Version
}

var placeholder = regexp.MustCompile(`\{[a-z_]+\}`)

// Load reads every document: <dir>/<kind>.<lang>.txt when dir is set and
// the file exists, the embedded default otherwise. Every problem is
// returned at once.
func Load(dir string, p Params) (*Texts, error) {
	t := &Texts{docs: map[string]Doc{}}
	var errs []error
	for _, kind := range Kinds {
		for _, lang := range Languages {
			name := kind + "." + lang + ".txt"
			src, from, err := read(dir, name)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			d, err := parse(fill(src, p, lang))
			if err != nil {
				errs = append(errs, fmt.Errorf("legal text %s: %w", from, err))
				continue
			}
			if left := placeholder.FindString(d.raw); left != "" {
				errs = append(errs, fmt.Errorf("legal text %s: unknown placeholder %s", from, left))
				continue
			}
			d.Kind, d.Lang = kind, lang
			t.docs[kind+"."+lang] = d.Doc
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return t, nil
}

func read(dir, name string) (string, string, error) {
	if dir != "" {
		path := filepath.Join(dir, name)
		b, err := os.ReadFile(path)
		if err == nil {
			return string(b), path, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", path, fmt.Errorf("legal text %s: %w", path, err)
		}
	}
	b, err := defaults.ReadFile("texts/" + name)
	if err != nil {
		return "", name, fmt.Errorf("legal text %s: no default: %w", name, err)
	}
	return string(b), "default " + name, nil
}

func fill(src string, p Params, lang string) string {
	controller := p.Controller[lang]
	if controller == "" {
		controller = p.Controller["it"]
	}
	responsible := p.Responsible[lang]
	if responsible == "" {
		responsible = p.Responsible["it"]
	}
	dpo := p.DPO
	if dpo == "" {
		if lang == "it" {
			dpo = "scrivendo all'assistenza (" + p.Care + ")"
		} else {
			dpo = "by writing to customer care (" + p.Care + ")"
		}
	}
	r := strings.NewReplacer("{controller}", controller, "{controller_url}", p.ControllerURL,
		"{dpo}", dpo, "{care}", p.Care, "{updated}", p.Updated, "{responsible}", responsible)
	return r.Replace(src)
}

type parsed struct {
	Doc
	raw string
}

func parse(src string) (parsed, error) {
	src = strings.ReplaceAll(src, "\r\n", "\n")
	first, rest, _ := strings.Cut(strings.TrimLeft(src, "\n"), "\n")
	if !strings.HasPrefix(first, "# ") {
		return parsed{}, errors.New(`the first line must be the title, written "# Title"`)
	}
	d := parsed{raw: src}
	d.Title = strings.TrimSpace(first[2:])
	for _, chunk := range strings.Split(rest, "\n\n") {
		chunk = strings.TrimSpace(chunk)
		if chunk == "" {
			continue
		}
		lines := strings.Split(chunk, "\n")
		switch {
		case strings.HasPrefix(chunk, "## "):
			d.Blocks = append(d.Blocks, Block{Heading: strings.TrimSpace(lines[0][3:])})
			if len(lines) > 1 {
				return parsed{}, fmt.Errorf("heading %q: leave a blank line after a heading", lines[0][3:])
			}
		case strings.HasPrefix(chunk, "- "):
			var b Block
			for _, l := range lines {
				l = strings.TrimSpace(l)
				if strings.HasPrefix(l, "- ") {
					b.Items = append(b.Items, strings.TrimSpace(l[2:]))
				} else if len(b.Items) > 0 {
					b.Items[len(b.Items)-1] += " " + l // a wrapped item
				}
			}
			d.Blocks = append(d.Blocks, b)
		default:
			for i := range lines {
				lines[i] = strings.TrimSpace(lines[i])
			}
			d.Blocks = append(d.Blocks, Block{Paragraph: strings.Join(lines, " ")})
		}
	}
	if len(d.Blocks) == 0 {
		return parsed{}, errors.New("the text is empty")
	}
	sum := sha256.Sum256([]byte(src))
	d.Version = "sha256:" + hex.EncodeToString(sum[:8])
	return d, nil
}
