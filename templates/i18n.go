package templates

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Languages the pages exist in, Italian first.
var Languages = []string{"it", "en"}

// DefaultLanguage is used when nothing else decides.
const DefaultLanguage = "it"

// LangCookie is the first-party, non-essential cookie that remembers the
// language chosen with the switch (ui.md §6). It is always Secure, so it
// always carries the __Host- prefix (ui.md §11): a browser stores it from
// https and from localhost, as it did the Secure cookie before.
const LangCookie = "__Host-lang"

// oldLangCookie is the name the cookie had before the prefix; still read,
// so a choice made before the upgrade is kept until it is set again.
const oldLangCookie = "lang"

//go:embed i18n/*.json
var i18nFS embed.FS

// catalog maps a message key to its text; {name} marks a placeholder.
type catalog map[string]string

// loadCatalogs reads i18n/<lang>.json and every i18n/<lang>.<part>.json
// (one file per area: enrolment, console, ...), refusing a key defined twice.
func loadCatalogs() (map[string]catalog, error) {
	out := map[string]catalog{}
	for _, lang := range Languages {
		files, err := fs.Glob(i18nFS, "i18n/"+lang+".json")
		if err != nil {
			return nil, err
		}
		parts, err := fs.Glob(i18nFS, "i18n/"+lang+".*.json")
		if err != nil {
			return nil, err
		}
		c := catalog{}
		for _, f := range append(files, parts...) {
			b, err := i18nFS.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("templates: catalogue %s: %w", f, err)
			}
			var part catalog
			if err := json.Unmarshal(b, &part); err != nil {
				return nil, fmt.Errorf("templates: catalogue %s: %w", f, err)
			}
			for k, v := range part {
				if _, dup := c[k]; dup {
					return nil, fmt.Errorf("templates: catalogue %s: key %q defined twice", f, k)
				}
				c[k] = v
			}
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("templates: catalogue i18n/%s.json missing", lang)
		}
		out[lang] = c
	}
	return out, nil
}

// keyRef finds message keys written literally in templates: {{t "key" ...}}.
var keyRef = regexp.MustCompile(`\bt "([a-zA-Z0-9_.\-]+)"`)

// checkTemplateKeys makes sure every literal key used by a template exists
// in every catalogue, so a typo fails at start-up, not in front of a user.
func checkTemplateKeys(cats map[string]catalog) error {
	files, err := templateFiles()
	if err != nil {
		return err
	}
	var missing []string
	for _, f := range files {
		b, err := htmlFS.ReadFile(f)
		if err != nil {
			return err
		}
		for _, m := range keyRef.FindAllStringSubmatch(string(b), -1) {
			for _, lang := range Languages {
				if _, ok := cats[lang][m[1]]; !ok {
					missing = append(missing, fmt.Sprintf("%s: %s (%s)", f, m[1], lang))
				}
			}
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("templates: message keys missing from the catalogues: %s", strings.Join(missing, ", "))
	}
	return nil
}

func supported(lang string) bool {
	for _, l := range Languages {
		if l == lang {
			return true
		}
	}
	return false
}

// Lang picks the page language for r: the "lang" query parameter (the
// language switch), then the "lang" cookie, then the best supported match of
// Accept-Language, then Italian.
func Lang(r *http.Request) string {
	if l := r.URL.Query().Get("lang"); supported(l) {
		return l
	}
	for _, name := range []string{LangCookie, oldLangCookie} {
		if c, err := r.Cookie(name); err == nil && supported(c.Value) {
			return c.Value
		}
	}
	if l := fromAcceptLanguage(r.Header.Get("Accept-Language")); l != "" {
		return l
	}
	return DefaultLanguage
}

// SetLang returns Lang(r) and, when the choice came from the language
// switch (the query parameter), remembers it in the lang cookie for a year.
func SetLang(w http.ResponseWriter, r *http.Request) string {
	l := Lang(r)
	if r.URL.Query().Get("lang") == l {
		http.SetCookie(w, &http.Cookie{
			Name: LangCookie, Value: l, Path: "/", MaxAge: 365 * 24 * 3600,
			Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode,
		})
	}
	return l
}

// fromAcceptLanguage returns the supported language with the highest
// q-value (the first listed among equals), or "" when none is acceptable.
func fromAcceptLanguage(h string) string {
	if len(h) > 1024 {
		h = h[:1024] // a header this long is not a browser's
	}
	best, bestQ := "", 0.0
	for _, part := range strings.Split(h, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if p := strings.TrimSpace(params); p != "" {
			v, ok := strings.CutPrefix(p, "q=")
			if !ok {
				continue
			}
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 || f > 1 {
				continue
			}
			q = f
		}
		primary, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
		if q > bestQ && supported(primary) {
			best, bestQ = primary, q
		}
	}
	return best
}
