package templates

import "reflect"

// PageLegal is a legal text (privacy notice, accessibility statement,
// terms of service), served by package legal.
const PageLegal = "legal" // LegalPage

func init() {
	pages[PageLegal] = pageSpec{"layout.html", reflect.TypeFor[LegalPage]()}
}

// LegalPage is one legal text in the page's language. Blocks are text
// only: the page escapes them, so an operator's file can hold no markup.
type LegalPage struct {
	Title   string
	Version string
	Blocks  []LegalBlock
	// Back is where "back" leads ("" hides it); Others are the other texts.
	Back   string
	Others []LegalLink
}

// LegalBlock is a heading, a paragraph or a list.
type LegalBlock struct {
	Heading   string
	Paragraph []LegalSpan
	Items     [][]LegalSpan
}

// LegalSpan is a run of text, a link when URL is set.
type LegalSpan struct {
	Text, URL string
}

// LegalLink names another legal text.
type LegalLink struct {
	Title, URL string
}
