// Package templates renders the IdP's and the demo SP's HTML pages (ui.md),
// in Italian and English, from templates embedded in the binary and parsed
// once at start-up, and serves the static files they use (our own CSS,
// scripts and SVG logos: nothing from a third-party origin).
//
// Pages are CSP-clean: no inline script or style, no event-handler
// attributes (a test scans every template and every rendered page). Every
// form that posts back to the IdP carries the hidden FieldCSRF field whose
// value is the page data's CSRF field.
//
// Each page takes its own data type (see the Page constants); Render refuses
// any other type, so a wiring mistake fails loudly in tests.
package templates

import (
	"bytes"
	"embed"
	"fmt"
	"html"
	"html/template"
	"io/fs"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/template/parse"
	"time"

	"github.com/spid-idp/spid-idp/idp/spid"

	_ "time/tzdata" // Europe/Rome must be known even on minimal images
)

//go:embed html/*.html
var htmlFS embed.FS

// Links are the addresses the pages point to.
type Links struct {
	Enrol         string // "Non hai SPID?": how to get an identity
	Forgot        string // P09, forgotten credentials
	Help          string
	Privacy       string
	Accessibility string // accessibility statement
	Terms         string // terms of service
	// Portal is the self-service portal address, shown as plain text on
	// nr20/nr23 pages (a link would abandon the SP's flow).
	Portal string
}

// Options configure a Renderer.
type Options struct {
	// Brand is the IdP's name, as in its metadata OrganizationName.
	Brand string
	// BrandEN is the name on English pages ("" shows Brand).
	BrandEN string
	Links   Links
	// noFold keeps {{t "key"}} as calls (tests compare the pages with and
	// without folding).
	noFold bool
}

// Option changes Options.
type Option func(*Options)

// WithBrand sets the IdP name shown in the header and page titles.
func WithBrand(name string) Option { return func(o *Options) { o.Brand = name } }

// WithBrandEN sets the name English pages show instead (the configured
// English name); empty keeps Brand.
func WithBrandEN(name string) Option { return func(o *Options) { o.BrandEN = name } }

// WithLinks sets the page links; empty fields keep their defaults.
func WithLinks(l Links) Option {
	return func(o *Options) {
		set := func(dst *string, v string) {
			if v != "" {
				*dst = v
			}
		}
		set(&o.Links.Enrol, l.Enrol)
		set(&o.Links.Forgot, l.Forgot)
		set(&o.Links.Help, l.Help)
		set(&o.Links.Privacy, l.Privacy)
		set(&o.Links.Accessibility, l.Accessibility)
		set(&o.Links.Terms, l.Terms)
		set(&o.Links.Portal, l.Portal)
	}
}

func defaultOptions() Options {
	return Options{
		Brand: "SPID IdP",
		Links: Links{
			Enrol:         "/enrol/",
			Forgot:        "/recover",
			Help:          "/care/tickets/new",
			Privacy:       "/privacy",
			Accessibility: "/accessibility",
			Terms:         "/terms",
			Portal:        "/account",
		},
	}
}

// pageSpec says which layout and data type a page uses.
type pageSpec struct {
	layout string
	data   reflect.Type
}

var pages = map[string]pageSpec{
	PageLogin:      {"layout.html", reflect.TypeFor[LoginPage]()},
	PageOTP:        {"layout.html", reflect.TypeFor[OTPPage]()},
	PageConsent:    {"layout.html", reflect.TypeFor[ConsentPage]()},
	PageTransfer:   {"layout.html", reflect.TypeFor[TransferPage]()},
	PageAnomaly:    {"layout.html", reflect.TypeFor[AnomalyPage]()},
	PageError:      {"layout.html", reflect.TypeFor[ErrorPage]()},
	PageSession:    {"layout.html", reflect.TypeFor[SessionPage]()},
	PageLogout:     {"layout.html", reflect.TypeFor[LogoutPage]()},
	PageDemoHome:   {"demo_layout.html", reflect.TypeFor[DemoHomePage]()},
	PageDemoResult: {"demo_layout.html", reflect.TypeFor[DemoResultPage]()},
}

// Pages returns the names of all pages, for tests and route tables.
func Pages() []string {
	out := make([]string, 0, len(pages))
	for p := range pages {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Renderer holds the parsed templates, one set per language and page.
type Renderer struct {
	opts Options
	sets map[string]map[string]*template.Template // lang → page → template
}

// New parses every template once for every language. It fails if a
// template does not parse or names a message key missing from a catalogue.
func New(opts ...Option) (*Renderer, error) {
	o := defaultOptions()
	for _, f := range opts {
		f(&o)
	}
	cats, err := loadCatalogs()
	if err != nil {
		return nil, err
	}
	if err := checkTemplateKeys(cats); err != nil {
		return nil, err
	}
	r := &Renderer{opts: o, sets: map[string]map[string]*template.Template{}}
	for _, lang := range Languages {
		r.sets[lang] = map[string]*template.Template{}
		for name, spec := range pages {
			file := strings.ReplaceAll(name, "-", "_") + ".html"
			t, err := template.New(name).Funcs(funcs(lang, cats)).ParseFS(htmlFS, "html/"+spec.layout, "html/partials.html", "html/"+file)
			if err != nil {
				return nil, fmt.Errorf("templates: parsing %s: %w", file, err)
			}
			if !o.noFold {
				for _, tt := range t.Templates() {
					if tt.Tree != nil {
						foldMessages(tt.Tree.Root, lang, cats)
					}
				}
			}
			r.sets[lang][name] = t
		}
	}
	return r, nil
}

// With returns the Renderer New(opts...) would, sharing r's parsed
// templates: options only change what a page shows around its data, and
// the parse trees are the bulk of the process's live heap (megabytes of
// small objects that every collection scans), so the IdP, its back office
// and the demo SP keep one copy.
func (r *Renderer) With(opts ...Option) *Renderer {
	o := defaultOptions()
	o.noFold = r.opts.noFold
	for _, f := range opts {
		f(&o)
	}
	return &Renderer{opts: o, sets: r.sets}
}

// view is what every template receives: the page data in .Page and what the
// layout needs around it.
type view struct {
	Lang  string
	Brand string
	Links Links
	Level spid.Level // header logo variant; 0 = plain SPID logo
	Page  any
	// BackOffice: a console or care-desk page, laid out wide.
	BackOffice bool
	// LangBase prefixes the language links: "?" normally, or the page's own
	// URL plus "&" when the page belongs to a flow that a bare "?lang=" would
	// lose (see SelfURL).
	LangBase string
}

// selfer is a page that knows the GET URL that shows it again.
// backOffice tells the operators' pages (console, care desk), laid out
// wide for their tables, from the citizen's narrow card.
func backOffice(page string, data any) bool {
	if f, ok := data.(CareFormPage); ok {
		return f.Desk
	}
	switch page {
	case PageConsoleLogin, PageCareHome, PageCareForm, PageCareFiled:
		return false
	}
	return strings.HasPrefix(page, "console-") || strings.HasPrefix(page, "care-")
}

type selfer interface{ selfURL() string }

type leveled interface{ headerLevel() spid.Level }

// Render executes page in lang (Italian when lang is not supported) with
// data, which must be the page's type (value or pointer), and writes it with
// status. The page is rendered to a buffer first, so a template error
// produces no partial output and is returned to the caller, who should then
// answer with a plain 500. Responses are marked Cache-Control: no-store
// (ui.md §11, U013).
func (r *Renderer) Render(w http.ResponseWriter, status int, page string, lang string, data any) error {
	spec, ok := pages[page]
	if !ok {
		return fmt.Errorf("templates: unknown page %q", page)
	}
	v := reflect.ValueOf(data)
	if v.Kind() == reflect.Pointer && !v.IsNil() {
		v = v.Elem()
	}
	if !v.IsValid() || v.Type() != spec.data {
		return fmt.Errorf("templates: page %q takes %s, got %T", page, spec.data, data)
	}
	if !supported(lang) {
		lang = DefaultLanguage
	}
	vw := view{Lang: lang, Brand: r.opts.Brand, Links: r.opts.Links, Page: v.Interface(), LangBase: "?"}
	if lang == "en" && r.opts.BrandEN != "" {
		vw.Brand = r.opts.BrandEN
	}
	if s, ok := vw.Page.(selfer); ok && s.selfURL() != "" {
		vw.LangBase = s.selfURL() + "&"
	}
	vw.BackOffice = backOffice(page, vw.Page)
	if l, ok := vw.Page.(leveled); ok {
		vw.Level = l.headerLevel()
	}
	buf := renderBuffers.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= maxPooledBuffer {
			buf.Reset()
			renderBuffers.Put(buf)
		}
	}()
	if err := r.sets[lang][page].ExecuteTemplate(buf, spec.layout, vw); err != nil {
		return fmt.Errorf("templates: rendering %s (%s): %w", page, lang, err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Language", lang)
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// renderBuffers keeps page buffers between requests (a page with a signed
// Response is tens of KiB, grown step by step each time otherwise); an
// unusually large one is left to the collector.
var (
	renderBuffers   = sync.Pool{New: func() any { return new(bytes.Buffer) }}
	maxPooledBuffer = 256 << 10
)

// RenderError renders p with its own status (ErrorPage.Status).
func (r *Renderer) RenderError(w http.ResponseWriter, lang string, p ErrorPage) error {
	return r.Render(w, p.Status(), PageError, lang, p)
}

var rome = mustLocation("Europe/Rome")

func mustLocation(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err) // cannot happen: time/tzdata is embedded
	}
	return l
}

// funcs are the template functions for one language.
func funcs(lang string, cats map[string]catalog) template.FuncMap {
	cat := cats[lang]
	fallback := cats[DefaultLanguage]
	t := func(key string, args ...any) (string, error) {
		msg, ok := cat[key]
		if !ok {
			if msg, ok = fallback[key]; !ok {
				return "", fmt.Errorf("no message %q", key)
			}
		}
		if len(args)%2 != 0 {
			return "", fmt.Errorf("message %q: odd number of placeholder arguments", key)
		}
		for i := 0; i < len(args); i += 2 {
			msg = strings.ReplaceAll(msg, "{"+fmt.Sprint(args[i])+"}", fmt.Sprint(args[i+1]))
		}
		return msg, nil
	}
	return template.FuncMap{
		"t": t,
		// attr is the label of a SPID attribute, or its name when unknown.
		"attr": func(name string) string {
			if l, ok := cat["attr."+name]; ok {
				return l
			}
			return name
		},
		// akey is the catalogue key of an anomaly's message part.
		"akey": func(a spid.Anomaly, part string) string {
			return "anomaly." + a.String() + "." + part
		},
		"code": func(a spid.Anomaly) string { return fmt.Sprintf("%02d", int(a)) },
		// attrvalue shows an attribute's value as people read it (ui.md P05):
		// dates as dd/mm/yyyy, the sex in words; what is sent is unchanged.
		"attrvalue": func(name, value string) string {
			switch name {
			case "dateOfBirth", "expirationDate":
				if d, err := time.Parse("2006-01-02", value); err == nil {
					return d.Format("02/01/2006")
				}
			case "gender":
				if l, ok := cat["attrvalue.gender."+value]; ok {
					return l
				}
			}
			return value
		},
		"datetime": func(tm time.Time) string {
			return tm.In(rome).Format("02/01/2006 15:04")
		},
		"languages": func() []string { return Languages },
		// local picks a configured text's English variant on English
		// pages, the Italian one elsewhere or when there is no English one.
		"local": func(it, en string) string {
			if lang == "en" && en != "" {
				return en
			}
			return it
		},
		// localname: a federation entity's name in the page's language
		// (organization_name#en), else its untagged name.
		"localname": func(names map[string]string, fallback string) string {
			if n := names[lang]; n != "" {
				return n
			}
			return fallback
		},
		"hidden": hiddenFields,
		"langName": func(l string) string {
			return map[string]string{"it": "Italiano", "en": "English"}[l]
		},
	}
}

// message is what {{t key}} shows in lang, and whether there is one.
func message(lang, key string, cats map[string]catalog) (string, bool) {
	if msg, ok := cats[lang][key]; ok {
		return msg, true
	}
	msg, ok := cats[DefaultLanguage][key]
	return msg, ok
}

// foldMessages replaces each {{t "key"}} without placeholder arguments by
// the message itself, a string constant, once at start-up: most of a page's
// template actions are such calls, and each went through reflection on
// every render. The escaping is unchanged (html/template escapes a constant
// as it escaped the call's result, by the context it stands in).
func foldMessages(n parse.Node, lang string, cats map[string]catalog) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			foldMessages(c, lang, cats)
		}
	case *parse.ActionNode:
		foldMessages(n.Pipe, lang, cats)
	case *parse.IfNode:
		foldBranch(&n.BranchNode, lang, cats)
	case *parse.RangeNode:
		foldBranch(&n.BranchNode, lang, cats)
	case *parse.WithNode:
		foldBranch(&n.BranchNode, lang, cats)
	case *parse.TemplateNode:
		foldMessages(n.Pipe, lang, cats)
	case *parse.PipeNode:
		if n == nil {
			return
		}
		for _, cmd := range n.Cmds {
			for _, arg := range cmd.Args {
				foldMessages(arg, lang, cats)
			}
			if len(cmd.Args) != 2 {
				continue
			}
			fn, ok := cmd.Args[0].(*parse.IdentifierNode)
			key, isString := cmd.Args[1].(*parse.StringNode)
			if !ok || fn.Ident != "t" || !isString {
				continue
			}
			if msg, ok := message(lang, key.Text, cats); ok {
				cmd.Args = []parse.Node{&parse.StringNode{NodeType: parse.NodeString, Pos: key.Pos, Quoted: strconv.Quote(msg), Text: msg}}
			}
		}
	}
}

func foldBranch(b *parse.BranchNode, lang string, cats map[string]catalog) {
	foldMessages(b.Pipe, lang, cats)
	foldMessages(b.List, lang, cats)
	foldMessages(b.ElseList, lang, cats)
}

// hiddenFields writes the hidden inputs of a form the browser posts on the
// citizen's behalf. A signed SAML message is tens of KiB of base64, which
// html/template's attribute escaper copied rune by rune into a new string
// on every Response; html.EscapeString returns the text as it is when
// there is nothing to escape, and escapes what could end a double-quoted
// attribute (quotes, ampersands, angle brackets) when there is.
func hiddenFields(fs []Field) template.HTML {
	var b strings.Builder
	n := 0
	for _, f := range fs {
		n += len(f.Name) + len(f.Value) + 48
	}
	b.Grow(n)
	for _, f := range fs {
		b.WriteString(`<input type="hidden" name="`)
		b.WriteString(html.EscapeString(f.Name))
		b.WriteString(`" value="`)
		b.WriteString(html.EscapeString(f.Value))
		b.WriteString("\">\n")
	}
	return template.HTML(b.String()) //nolint:gosec // every value escaped above, for a double-quoted attribute
}

// templateFiles lists the embedded templates, for checks and tests.
func templateFiles() ([]string, error) {
	return fs.Glob(htmlFS, "html/*.html")
}
