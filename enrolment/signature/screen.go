package signature

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
)

// Bounds on the incremental update a signing tool appends to the form.
const (
	maxUpdate  = 2 << 20 // signature, fields, an appearance image at most
	maxObjects = 100000  // object numbers and xref sizes
	// maxUpdateEntries bounds the cross-reference entries the update adds
	// (a signature adds about five objects; revocation data some more).
	// pdfsign resolves every entry, and each resolution may parse up to
	// the rest of the file, so this bounds the parsing work too.
	maxUpdateEntries = 128
	// maxObjectBytes bounds one object definition of the update, stream
	// data and the signature's /Contents aside: the reader parses an object
	// whole each time it is resolved.
	maxObjectBytes = 64 << 10
	maxNesting     = 32 // arrays and dictionaries inside each other
	// maxString bounds every string of the update but the signature's own
	// /Contents: pdfsign hands any signature dictionary's /Contents to
	// pkcs7, whose recursive BER decoding must not see megabytes.
	maxString = 64 << 10
)

// span is a byte range [start, end) of the update.
type span struct{ start, end int }

var (
	reSize  = regexp.MustCompile(`/Size\s+(\d+)`)
	reArray = regexp.MustCompile(`/(W|Index)\s*\[([^\]]*)\]`)
	reInt   = regexp.MustCompile(`\d+`)
)

// screenUpdate refuses an incremental update that could make the PDF reader
// (github.com/digitorus/pdf) loop or allocate without bound: huge object
// numbers in xref subsections or /Size, wide xref-stream fields, deep
// nesting (the reader recurses), object streams (they would hide objects
// from this screen), a missing final %%EOF (the reader then scans backwards
// quadratically), or an oversized update.
//
// It returns the strings longer than maxString, which the caller allows only
// for the signature's /Contents.
func screenUpdate(u []byte) ([]span, error) {
	if len(u) == 0 {
		return nil, errors.New("the file is the unsigned form")
	}
	if len(u) > maxUpdate {
		return nil, fmt.Errorf("the signature update is %d bytes, more than %d", len(u), maxUpdate)
	}
	if !bytes.HasSuffix(bytes.TrimRight(u, "\r\n\t "), []byte("%%EOF")) {
		return nil, errors.New("the file does not end with %%EOF")
	}
	if bytes.Contains(u, []byte("/ObjStm")) {
		return nil, errors.New("object streams in the signature update are not accepted")
	}
	for _, m := range reSize.FindAllSubmatch(u, -1) {
		if !small(m[1], maxObjects) {
			return nil, errors.New("/Size out of range")
		}
	}
	indexed := 0
	for _, m := range reArray.FindAllSubmatch(u, -1) {
		limit := maxObjects
		if string(m[1]) == "W" {
			limit = 8
		}
		for k, n := range reInt.FindAll(m[2], -1) {
			if !small(n, limit) {
				return nil, fmt.Errorf("/%s out of range", m[1])
			}
			if string(m[1]) == "Index" && k%2 == 1 {
				c, _ := strconv.Atoi(string(n))
				indexed += c
			}
		}
	}
	// A cross-reference stream without /Index covers every object number
	// up to /Size; in an update it must list the objects it adds.
	if bytes.Contains(u, []byte("/XRef")) && !bytes.Contains(u, []byte("/Index")) {
		return nil, errors.New("cross-reference stream without /Index")
	}
	if indexed > maxUpdateEntries {
		return nil, errors.New("too many objects in the signature update")
	}
	return scanStructure(u)
}

func small(digits []byte, limit int) bool {
	if len(digits) > 9 {
		return false
	}
	n, err := strconv.Atoi(string(digits))
	return err == nil && n <= limit
}

// scanStructure walks the update's tokens loosely: it skips comments,
// strings and stream data, bounds nesting, and checks every xref
// subsection header "first count".
func scanStructure(u []byte) ([]span, error) {
	depth, entries := 0, 0
	var long []span
	// Object definitions: objects do not nest, and each is small once its
	// stream data and long strings are set aside.
	inObj, objStart, objSkipped := false, 0, 0
	for i := 0; i < len(u); {
		c := u[i]
		switch {
		case c == '%':
			for i < len(u) && u[i] != '\n' && u[i] != '\r' {
				i++
			}
		case c == '(':
			j, err := skipLiteral(u, i)
			if err != nil {
				return nil, err
			}
			if j-i > maxString {
				long = append(long, span{i, j})
				objSkipped += j - i
			}
			i = j
		case c == '<' && i+1 < len(u) && u[i+1] == '<':
			depth++
			i += 2
		case c == '>' && i+1 < len(u) && u[i+1] == '>':
			depth--
			i += 2
		case c == '<':
			j := bytes.IndexByte(u[i:], '>')
			if j < 0 {
				return nil, errors.New("unterminated hex string")
			}
			if j+1 > maxString {
				long = append(long, span{i, i + j + 1})
				objSkipped += j + 1
			}
			i += j + 1
		case c == '[':
			depth++
			i++
		case c == ']':
			depth--
			i++
		case hasKeyword(u, i, "stream"):
			// A stream is an indirect object: its dictionary closes at the
			// top level. The reader tokenises "stream" data found anywhere
			// else, so skipping it here would hide what it parses.
			if depth != 0 {
				return nil, errors.New("stream keyword inside an array or dictionary")
			}
			j := bytes.Index(u[i:], []byte("endstream"))
			if j < 0 {
				return nil, errors.New("unterminated stream")
			}
			i += j + len("endstream")
			objSkipped += j
		case hasKeyword(u, i, "obj"):
			if inObj {
				return nil, errors.New("object definition inside another")
			}
			inObj, objStart, objSkipped = true, i, 0
			i += len("obj")
		case hasKeyword(u, i, "endobj"):
			if inObj && i-objStart-objSkipped > maxObjectBytes {
				return nil, errors.New("object too large in the signature update")
			}
			inObj = false
			i += len("endobj")
		case hasKeyword(u, i, "xref"):
			j, err := checkXref(u, i+len("xref"), &entries)
			if err != nil {
				return nil, err
			}
			i = j
		default:
			i++
		}
		if depth > maxNesting {
			return nil, errors.New("objects nested too deeply")
		}
	}
	return long, nil
}

// hasKeyword reports whether the keyword kw starts at u[i] as a whole token
// ("stream" but not "endstream", "xref" but not "startxref").
func hasKeyword(u []byte, i int, kw string) bool {
	if !bytes.HasPrefix(u[i:], []byte(kw)) {
		return false
	}
	if i > 0 && isRegular(u[i-1]) {
		return false
	}
	j := i + len(kw)
	return j >= len(u) || !isRegular(u[j])
}

func isRegular(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', '\f', 0, '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return false
	}
	return true
}

func skipLiteral(u []byte, i int) (int, error) {
	level := 0
	for ; i < len(u); i++ {
		switch u[i] {
		case '\\':
			i++
		case '(':
			level++
		case ')':
			level--
			if level == 0 {
				return i + 1, nil
			}
		}
	}
	return 0, errors.New("unterminated string")
}

// checkXref reads the subsections of a cross-reference table starting at
// u[i] up to "trailer" and returns the index after it; entries accumulates
// the entries of every table of the update.
func checkXref(u []byte, i int, entries *int) (int, error) {
	fields := func() ([]byte, bool) {
		for i < len(u) && (u[i] == ' ' || u[i] == '\r' || u[i] == '\n' || u[i] == '\t') {
			i++
		}
		j := i
		for j < len(u) && u[j] != ' ' && u[j] != '\r' && u[j] != '\n' && u[j] != '\t' {
			j++
		}
		tok := u[i:j]
		i = j
		return tok, len(tok) > 0
	}
	for {
		tok, ok := fields()
		if !ok {
			return 0, errors.New("cross-reference table without trailer")
		}
		if string(tok) == "trailer" {
			return i, nil
		}
		cnt, ok := fields()
		if !ok || !small(tok, maxObjects) || !small(cnt, maxObjects) {
			return 0, errors.New("cross-reference subsection out of range")
		}
		first, _ := strconv.Atoi(string(tok))
		n, _ := strconv.Atoi(string(cnt))
		if first+n > maxObjects {
			return 0, errors.New("cross-reference subsection out of range")
		}
		if *entries += n; *entries > maxUpdateEntries {
			return 0, errors.New("too many objects in the signature update")
		}
		for k := 0; k < 3*n; k++ {
			if _, ok := fields(); !ok {
				return 0, errors.New("truncated cross-reference table")
			}
		}
	}
}
