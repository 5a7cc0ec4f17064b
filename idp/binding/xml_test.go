package binding

import (
	"errors"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const okXML = `<?xml version="1.0" encoding="UTF-8"?>
<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a"><saml:Issuer>https://sp.example.it</saml:Issuer></samlp:AuthnRequest>
`

func TestParseAccepts(t *testing.T) {
	for name, s := range map[string]string{
		"with declaration and trailing newline": okXML,
		"no declaration":                        `<a/>`,
		"lowercase utf-8":                       `<?xml version="1.0" encoding="utf-8"?><a/>`,
		"CDATA":                                 `<a><b><![CDATA[x]]></b></a>`,
		"depth 32":                              strings.Repeat("<a>", 32) + strings.Repeat("</a>", 32),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse([]byte(s), 0); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	cases := map[string]string{
		"comment inside Issuer (S017)": strings.Replace(okXML, "https://sp.example.it<", "https://sp.example.it<!---->.evil.example<", 1),
		"comment before root":          `<!-- x --><a/>`,
		"comment after root":           `<a/><!-- x -->`,
		"PI inside (S018)":             `<a><?pi x?></a>`,
		"PI before root":               `<?pi x?><a/>`,
		"declaration not first":        ` <?xml version="1.0"?><a/>`,
		"ISO-8859-1 encoding":          `<?xml version="1.0" encoding="ISO-8859-1"?><a/>`,
		"DOCTYPE":                      `<!DOCTYPE a><a/>`,
		"XXE to a local file (S023)":   `<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>`,
		"billion laughs (S024)": `<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">` +
			`<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><a>&lol3;</a>`,
		"undeclared entity":               `<a>&foo;</a>`,
		"two roots (S020)":                `<a/><a/>`,
		"two documents (S020)":            okXML + okXML,
		"trailing element (S021)":         `<a/><x/>`,
		"trailing text (S021)":            `<a/>junk`,
		"no root":                         ``,
		"only whitespace":                 "  \n",
		"depth 33":                        strings.Repeat("<a>", 33) + strings.Repeat("</a>", 33),
		"duplicate ID (S015)":             `<a ID="x"><b ID="x"/></a>`,
		"ID and Id (S016)":                `<a ID="x" Id="y"/>`,
		"ID and namespaced ID":            `<a xmlns:z="urn:z" ID="x" z:ID="y"/>`,
		"repeated attribute":              `<a b="1" b="2"/>`,
		"same attribute via two prefixes": `<a xmlns:p="urn:p" xmlns:q="urn:p" p:b="1" q:b="2"/>`,
		"unbound element prefix":          `<samlp:AuthnRequest/>`,
		"unbound attribute prefix":        `<a z:b="1"/>`,
		"not well-formed":                 `<a><b></a>`,
		"round-trip unstable (S031)":      `<x::Root/>`,
		"round-trip unstable attr":        `<Root><Element ::attr="foo"></Element></Root>`,
		"round-trip unstable empty attr":  `<Root :="value"/>`,
		"BOM":                             "\ufeff<a/>",
	}
	for name, s := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse([]byte(s), 0); !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

// TestParseDeepNesting: S022 (10 000 levels, rejected quickly).
func TestParseDeepNesting(t *testing.T) {
	s := strings.Repeat("<a>", 10000) + strings.Repeat("</a>", 10000)
	start := time.Now()
	if _, err := Parse([]byte(s), 0); !errors.Is(err, ErrMalformed) {
		t.Fatal(err)
	}
	t.Logf("rejected in %v", time.Since(start))
}

// TestParseNoExternalFetch: S025, an external DTD URL pointing at a local
// listener is refused and the listener sees no connection.
func TestParseNoExternalFetch(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			c.Close()
		}
	}()
	url := "http://" + ln.Addr().String() + "/x.dtd"
	for _, s := range []string{
		`<!DOCTYPE a SYSTEM "` + url + `"><a/>`,
		`<!DOCTYPE a [<!ENTITY % p SYSTEM "` + url + `"> %p;]><a/>`,
	} {
		if _, err := Parse([]byte(s), 0); !errors.Is(err, ErrMalformed) {
			t.Fatal(err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	if n := conns.Load(); n != 0 {
		t.Fatalf("%d connections to the DTD listener", n)
	}
}

// TestParseBillionLaughsHeap: S024, bounded heap growth.
func TestParseBillionLaughsHeap(t *testing.T) {
	s := `<!DOCTYPE lolz [<!ENTITY lol "lol">` + strings.Repeat(`<!ENTITY lolx "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">`, 9) + `]><a>&lolx;</a>`
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := Parse([]byte(s), 0)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrMalformed) {
		t.Fatal(err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Fatalf("allocated %d bytes", grew)
	}
}

func TestText(t *testing.T) {
	doc, err := Parse([]byte(`<a><b>x<![CDATA[y]]>z</b><c>p<d/>q</c><e/></a>`), 0)
	if err != nil {
		t.Fatal(err)
	}
	r := doc.Root()
	if s, err := Text(r.SelectElement("b")); err != nil || s != "xyz" {
		t.Fatalf("Text(b) = %q, %v; want xyz (S019)", s, err)
	}
	if _, err := Text(r.SelectElement("c")); err == nil {
		t.Fatal("Text(c) accepted mixed content")
	}
	if s, err := Text(r.SelectElement("e")); err != nil || s != "" {
		t.Fatalf("Text(e) = %q, %v", s, err)
	}
}

func TestAttrAndChildren(t *testing.T) {
	doc, err := Parse([]byte(`<p:R xmlns:p="urn:p" xmlns:q="urn:q" q:Version="9" Version="2.0" ID="_a"><p:C>1</p:C><q:C>2</q:C><p:D/><p:C>3</p:C></p:R>`), 16)
	if err != nil {
		t.Fatal(err)
	}
	root := doc.Root()
	if v, ok := Attr(root, "Version"); !ok || v != "2.0" {
		t.Errorf("Attr(Version) = %q, %v; want the unqualified 2.0", v, ok)
	}
	if _, ok := Attr(root, "Destination"); ok {
		t.Error("Attr found a missing attribute")
	}
	var got []string
	for _, c := range Children(root, "urn:p", "C") {
		got = append(got, c.Text())
	}
	if strings.Join(got, ",") != "1,3" {
		t.Errorf("Children(urn:p C) = %v, want [1 3]", got)
	}
}
