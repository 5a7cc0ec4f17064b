package legal

import (
	"net/http"
	"regexp"
	"strings"

	"github.com/spid-idp/spid-idp/templates"
)

// Path is where each document is served.
func Path(kind string) string { return "/" + kind }

// Handler serves the documents at /privacy, /accessibility and /terms.
type Handler struct {
	Texts *Texts
	Pages *templates.Renderer
}

// Register mounts the pages on mux.
func (h *Handler) Register(mux *http.ServeMux) {
	for _, kind := range Kinds {
		mux.HandleFunc("GET "+Path(kind), func(w http.ResponseWriter, r *http.Request) { h.serve(w, r, kind) })
	}
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, kind string) {
	lang := templates.SetLang(w, r)
	d, ok := h.Texts.Get(kind, lang)
	if !ok {
		http.NotFound(w, r)
		return
	}
	p := templates.LegalPage{Title: d.Title, Version: d.Version, Back: "/"}
	for _, b := range d.Blocks {
		lb := templates.LegalBlock{Heading: b.Heading}
		if b.Paragraph != "" {
			lb.Paragraph = Spans(b.Paragraph)
		}
		for _, it := range b.Items {
			lb.Items = append(lb.Items, Spans(it))
		}
		p.Blocks = append(p.Blocks, lb)
	}
	for _, k := range Kinds {
		if k != kind {
			o, _ := h.Texts.Get(k, lang)
			p.Others = append(p.Others, templates.LegalLink{Title: o.Title, URL: Path(k)})
		}
	}
	_ = h.Pages.Render(w, http.StatusOK, templates.PageLegal, lang, p)
}

// webAddress finds the addresses in a text: absolute http(s) URLs, bare
// www. hosts, and the IdP's own paths in parentheses.
var webAddress = regexp.MustCompile(`https?://[^\s()]+|www\.[a-z0-9.-]+\.[a-z]{2,}[^\s()]*`)

// Spans splits text into plain runs and links; a sentence's final
// punctuation is not part of a link.
func Spans(text string) []templates.LegalSpan {
	var out []templates.LegalSpan
	last := 0
	for _, m := range webAddress.FindAllStringIndex(text, -1) {
		start, end := m[0], m[1]
		for end > start && strings.ContainsRune(".,;:", rune(text[end-1])) {
			end--
		}
		if start > last {
			out = append(out, templates.LegalSpan{Text: text[last:start]})
		}
		addr := text[start:end]
		href := addr
		if strings.HasPrefix(addr, "www.") {
			href = "https://" + addr
		}
		out = append(out, templates.LegalSpan{Text: addr, URL: href})
		last = end
	}
	if last < len(text) {
		out = append(out, templates.LegalSpan{Text: text[last:]})
	}
	return out
}
