package signature

import "errors"

// maxBERDepth bounds the nesting of constructed values in a CMS file. Real
// SignedData structures nest about fifteen deep (certificate extensions
// inside certificates inside the SignedData); github.com/digitorus/pkcs7
// converts BER to DER recursively, and a few megabytes of nested
// indefinite-length headers overflow the goroutine stack, a fatal error no
// recover can catch. screenBER walks the headers iteratively first.
const maxBERDepth = 48

// screenBER checks that b is one BER/DER value whose TLV headers are
// well-formed, whose lengths stay inside their parents, and whose
// constructed values nest at most maxBERDepth deep.
func screenBER(b []byte) error {
	type frame struct {
		end   int // for definite lengths
		indef bool
	}
	stack := []frame{{end: len(b)}}
	i, seen := 0, false
	for {
		top := stack[len(stack)-1]
		if len(stack) == 1 && seen {
			// One top-level value; trailing bytes are tolerated, as pkcs7
			// does, but not parsed.
			return nil
		}
		if top.indef {
			if i+1 < len(b) && b[i] == 0 && b[i+1] == 0 {
				i += 2
				stack = stack[:len(stack)-1]
				continue
			}
		} else if len(stack) > 1 && i >= top.end {
			if i > top.end {
				return errors.New("BER: value overruns its parent")
			}
			stack = stack[:len(stack)-1]
			continue
		}
		if i >= len(b) {
			return errors.New("BER: truncated")
		}
		if len(stack) == 1 {
			seen = true
		}
		tag := b[i]
		i++
		if tag&0x1f == 0x1f { // high tag number: base-128 digits
			for n := 0; i < len(b) && b[i]&0x80 != 0; n++ {
				if n > 4 {
					return errors.New("BER: tag too long")
				}
				i++
			}
			i++
		}
		if i >= len(b) {
			return errors.New("BER: truncated header")
		}
		l := int(b[i])
		i++
		constructed := tag&0x20 != 0
		if l == 0x80 {
			if !constructed {
				return errors.New("BER: indefinite length on a primitive value")
			}
			stack = append(stack, frame{indef: true})
		} else {
			if l&0x80 != 0 {
				n := l & 0x7f
				if n > 4 || i+n > len(b) {
					return errors.New("BER: bad length")
				}
				l = 0
				for k := 0; k < n; k++ {
					l = l<<8 | int(b[i+k])
				}
				i += n
			}
			if l < 0 || l > len(b)-i {
				return errors.New("BER: length beyond the data")
			}
			if constructed {
				stack = append(stack, frame{end: i + l})
			} else {
				i += l
			}
		}
		if len(stack)-1 > maxBERDepth {
			return errors.New("BER: nested too deeply")
		}
	}
}

// berValue is one TLV inside a buffer: the header's first byte, where its
// contents start and end, and where the next value begins (after the
// end-of-contents octets of an indefinite length).
type berValue struct {
	tag         byte
	constructed bool
	start, end  int
	next        int
}

// readBER reads the value at b[i]. Call it only on input screenBER
// accepted: it recurses once per level of indefinite-length nesting.
func readBER(b []byte, i int) (berValue, error) {
	if i >= len(b) {
		return berValue{}, errors.New("BER: truncated")
	}
	v := berValue{tag: b[i], constructed: b[i]&0x20 != 0}
	i++
	if v.tag&0x1f == 0x1f {
		for i < len(b) && b[i]&0x80 != 0 {
			i++
		}
		i++
	}
	if i >= len(b) {
		return berValue{}, errors.New("BER: truncated header")
	}
	l := int(b[i])
	i++
	if l == 0x80 {
		v.start = i
		for {
			if i+1 < len(b) && b[i] == 0 && b[i+1] == 0 {
				v.end, v.next = i, i+2
				return v, nil
			}
			c, err := readBER(b, i)
			if err != nil {
				return berValue{}, err
			}
			i = c.next
		}
	}
	if l&0x80 != 0 {
		n := l & 0x7f
		if n > 4 || i+n > len(b) {
			return berValue{}, errors.New("BER: bad length")
		}
		l = 0
		for k := 0; k < n; k++ {
			l = l<<8 | int(b[i+k])
		}
		i += n
	}
	if l < 0 || l > len(b)-i {
		return berValue{}, errors.New("BER: length beyond the data")
	}
	v.start, v.end, v.next = i, i+l, i+l
	return v, nil
}

func berChildren(b []byte, v berValue) ([]berValue, error) {
	var out []berValue
	for i := v.start; i < v.end; {
		c, err := readBER(b, i)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
		i = c.next
	}
	return out, nil
}

// berOctets returns the bytes of an OCTET STRING, joining the segments of
// the constructed (BER) form.
func berOctets(b []byte, v berValue, depth int) ([]byte, error) {
	if v.tag&0x1f != 0x04 {
		return nil, errors.New("BER: not an OCTET STRING")
	}
	if !v.constructed {
		return b[v.start:v.end], nil
	}
	if depth > maxBERDepth {
		return nil, errors.New("BER: nested too deeply")
	}
	kids, err := berChildren(b, v)
	if err != nil {
		return nil, err
	}
	var out []byte
	for _, k := range kids {
		seg, err := berOctets(b, k, depth+1)
		if err != nil {
			return nil, err
		}
		out = append(out, seg...)
	}
	return out, nil
}

// encapsulatedContent returns eContent of a CMS SignedData (ContentInfo →
// [0] → SignedData → encapContentInfo → [0] → OCTET STRING), joining the
// segments streaming signers write. github.com/digitorus/pkcs7 keeps only
// the first segment, so a streamed .p7m of a form longer than one segment
// would otherwise never match.
func encapsulatedContent(b []byte) ([]byte, error) {
	step := func(v berValue, idx int) (berValue, error) {
		kids, err := berChildren(b, v)
		if err != nil {
			return berValue{}, err
		}
		if idx >= len(kids) {
			return berValue{}, errors.New("CMS: structure too short")
		}
		return kids[idx], nil
	}
	ci, err := readBER(b, 0)
	if err != nil {
		return nil, err
	}
	v, err := step(ci, 1) // [0] content
	if err == nil {
		v, err = step(v, 0) // SignedData
	}
	if err == nil {
		v, err = step(v, 2) // encapContentInfo (after version, digestAlgorithms)
	}
	if err == nil {
		v, err = step(v, 1) // [0] eContent
	}
	if err == nil {
		v, err = step(v, 0) // OCTET STRING
	}
	if err != nil {
		return nil, err
	}
	return berOctets(b, v, 0)
}
