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
