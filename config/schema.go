package config

import (
	"encoding/base64"
	"fmt"
	"math"
	"net/netip"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// EnvPrefix starts every environment variable that sets an option.
const EnvPrefix = "SPID_IDP_"

// EnvConfigFile is reserved for the command line to name the configuration
// file; Load ignores it rather than calling it unknown.
const EnvConfigFile = EnvPrefix + "CONFIG"

// field is one node of the schema derived from the Config struct tags: a
// section (struct) or an option (leaf).
type field struct {
	name       string // YAML key
	path       string // dotted path from the root
	env        string // environment variable
	index      []int  // reflect index from Config
	typ        reflect.Type
	doc        string
	def        string // literal default, parsed like an environment value
	defDoc     string // description of a computed default
	bytesUnit  bool
	children   []*field
	byName     map[string]*field
	leafParser parser
}

func (f *field) isSection() bool { return f.children != nil }

func (f *field) secret() bool { return f.typ == secretType || f.typ == keyType }

var (
	durationType = reflect.TypeFor[time.Duration]()
	secretType   = reflect.TypeFor[Secret]()
	keyType      = reflect.TypeFor[Key]()
	prefixesType = reflect.TypeFor[[]netip.Prefix]()
	stringsType  = reflect.TypeFor[[]string]()
	sourcesType  = reflect.TypeFor[[]SPSource]()
)

type schemaT struct {
	root   *field
	leaves []*field
	byEnv  map[string]*field
	byPath map[string]*field
}

var schema = sync.OnceValue(func() *schemaT {
	s := &schemaT{byEnv: map[string]*field{}, byPath: map[string]*field{}}
	s.root = s.build(reflect.TypeFor[Config](), nil, "", nil)
	return s
})

// parentOf returns the section holding f, nil for top-level options.
func (s *schemaT) parentOf(f *field) *field {
	i := strings.LastIndexByte(f.path, '.')
	if i < 0 {
		return nil
	}
	return s.byPath[f.path[:i]]
}

func (s *schemaT) build(t reflect.Type, index []int, prefix string, f *field) *field {
	if f == nil {
		f = &field{typ: t}
	}
	f.byName = map[string]*field{}
	f.children = []*field{}
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		c := &field{
			name:      name,
			path:      prefix + name,
			index:     append(append([]int(nil), index...), i),
			typ:       sf.Type,
			doc:       sf.Tag.Get("doc"),
			def:       sf.Tag.Get("default"),
			defDoc:    sf.Tag.Get("defaultdoc"),
			bytesUnit: sf.Tag.Get("unit") == "bytes",
		}
		c.env = EnvPrefix + strings.ToUpper(strings.ReplaceAll(c.path, ".", "_"))
		f.children = append(f.children, c)
		f.byName[name] = c
		s.byPath[c.path] = c
		if sf.Type.Kind() == reflect.Struct && sf.Type != durationType {
			s.build(sf.Type, c.index, c.path+".", c)
			continue
		}
		c.leafParser = parserFor(c)
		if c.leafParser == nil {
			panic(fmt.Sprintf("config: option %s has unsupported type %s", c.path, sf.Type))
		}
		s.leaves = append(s.leaves, c)
		s.byEnv[c.env] = c
	}
	return f
}

// parser turns one textual value into a field value, or explains in a
// problem message what was expected. The message never contains the value
// of a secret.
type parser func(s string) (reflect.Value, string)

func parserFor(f *field) parser {
	t := f.typ
	switch {
	case t == durationType:
		return func(s string) (reflect.Value, string) {
			d, err := parseDuration(s)
			if err != nil {
				return reflect.Value{}, fmt.Sprintf("must be a duration like \"30s\", \"5m\" or \"24h\", got %q", clip(s))
			}
			return reflect.ValueOf(d), ""
		}
	case t == secretType:
		return func(s string) (reflect.Value, string) { return reflect.ValueOf(Secret(s)), "" }
	case t == keyType:
		return func(s string) (reflect.Value, string) {
			b, ok := decodeBase64(s)
			if !ok {
				return reflect.Value{}, "must be base64 (e.g. from `openssl rand -base64 32`), got a value that is not valid base64"
			}
			return reflect.ValueOf(Key(b)), ""
		}
	case t == prefixesType, t == stringsType, t == sourcesType:
		return parserForList(f)
	}
	switch t.Kind() {
	case reflect.String:
		return func(s string) (reflect.Value, string) { return reflect.ValueOf(s).Convert(t), "" }
	case reflect.Bool:
		return func(s string) (reflect.Value, string) {
			b, err := strconv.ParseBool(s)
			if err != nil {
				return reflect.Value{}, fmt.Sprintf("must be true or false, got %q", clip(s))
			}
			return reflect.ValueOf(b), ""
		}
	case reflect.Int, reflect.Int64, reflect.Uint32, reflect.Uint8:
		return intParser(t, f.bytesUnit)
	}
	return nil
}

// parserForList handles list options: the environment gives
// "a, b, c"; YAML gives a sequence whose items go through elemParser.
func parserForList(f *field) parser {
	elem := elemParser(f.typ)
	return func(s string) (reflect.Value, string) {
		out := reflect.MakeSlice(f.typ, 0, 4)
		for i, part := range strings.Split(s, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			v, msg := elem(part)
			if msg != "" {
				return reflect.Value{}, fmt.Sprintf("item %d: %s", i+1, msg)
			}
			out = reflect.Append(out, v)
		}
		return out, ""
	}
}

// elemParser parses one list item; only the list types parserFor accepts
// reach it.
func elemParser(t reflect.Type) parser {
	if t == prefixesType {
		return parsePrefix
	}
	if t == sourcesType {
		return parseSPSource
	}
	return func(s string) (reflect.Value, string) { return reflect.ValueOf(s), "" }
}

// parsePrefix accepts a CIDR or a bare address (one host). Host bits set
// in a CIDR are a likely typo and refused with the intended network.
func parsePrefix(s string) (reflect.Value, string) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return reflect.Value{}, fmt.Sprintf("must be a CIDR like \"10.0.0.0/8\" or an IP address, got %q", clip(s))
		}
		return reflect.ValueOf(netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())), ""
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return reflect.Value{}, fmt.Sprintf("must be a CIDR like \"10.0.0.0/8\" or an IP address, got %q", clip(s))
	}
	if p.Masked() != p {
		return reflect.Value{}, fmt.Sprintf("has host bits set: did you mean %q? got %q", p.Masked().String(), clip(s))
	}
	return reflect.ValueOf(p), ""
}

var byteSizeRE = regexp.MustCompile(`^([0-9]+)\s*(B|KiB|MiB|GiB|KB|MB|GB)?$`)

func intParser(t reflect.Type, bytesUnit bool) parser {
	bits := t.Bits()
	unsigned := t.Kind() == reflect.Uint32 || t.Kind() == reflect.Uint8
	var lo, hi int64
	if unsigned {
		lo, hi = 0, int64(uint64(1)<<bits-1)
	} else {
		lo, hi = -1<<(bits-1), 1<<(bits-1)-1
	}
	want := "a whole number"
	if unsigned {
		want = fmt.Sprintf("a whole number from 0 to %d", hi)
	}
	if bytesUnit {
		want = "a size in bytes like 65536 or \"64KiB\""
	}
	return func(s string) (reflect.Value, string) {
		n, ok, outOfRange := parseIntText(strings.TrimSpace(s), bytesUnit)
		if !ok {
			return reflect.Value{}, fmt.Sprintf("must be %s, got %q", want, clip(s))
		}
		if outOfRange || n < lo || n > hi {
			return reflect.Value{}, fmt.Sprintf("must be between %d and %d, got %s", lo, hi, s)
		}
		v := reflect.New(t).Elem()
		if unsigned {
			v.SetUint(uint64(n))
		} else {
			v.SetInt(n)
		}
		return v, ""
	}
}

func parseIntText(s string, bytesUnit bool) (n int64, ok, outOfRange bool) {
	mult := int64(1)
	if bytesUnit {
		m := byteSizeRE.FindStringSubmatch(s)
		if m == nil {
			return 0, false, false
		}
		s = m[1]
		if m[2] != "" {
			mult = map[string]int64{"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "KB": 1e3, "MB": 1e6, "GB": 1e9}[m[2]]
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errorsIsRange(err), errorsIsRange(err)
	}
	if n > math.MaxInt64/mult || n < math.MinInt64/mult {
		return 0, true, true
	}
	return n * mult, true, false
}

func errorsIsRange(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// parseDuration extends time.ParseDuration with a leading whole number of
// days ("30d", "1d12h"), the natural unit for metadata validity.
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, 'd'); i > 0 {
		days, err := strconv.ParseInt(s[:i], 10, 32)
		if err != nil || days > 106000 {
			return 0, fmt.Errorf("bad day count")
		}
		var rest time.Duration
		if s[i+1:] != "" {
			if rest, err = time.ParseDuration(s[i+1:]); err != nil || rest < 0 {
				return 0, fmt.Errorf("bad duration")
			}
		}
		return time.Duration(days)*24*time.Hour + rest, nil
	}
	return time.ParseDuration(s)
}

// decodeBase64 accepts standard or URL-safe base64, padded or not, so keys
// pasted from any common tool work.
func decodeBase64(s string) ([]byte, bool) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}

// parseSPSource reads LOCATION|CERTIFICATE[|REFRESH]: a URL (with ://) or a
// file, the PEM certificate, and an optional refresh interval.
func parseSPSource(s string) (reflect.Value, string) {
	parts := strings.Split(s, "|")
	if len(parts) < 2 || len(parts) > 3 {
		return reflect.Value{}, fmt.Sprintf("must be LOCATION|CERTIFICATE or LOCATION|CERTIFICATE|REFRESH, got %q", clip(s))
	}
	src := SPSource{Certificate: strings.TrimSpace(parts[1]), Refresh: DefaultSPSourceRefresh}
	if loc := strings.TrimSpace(parts[0]); strings.Contains(loc, "://") {
		src.URL = loc
	} else {
		src.File = loc
	}
	if len(parts) == 3 && strings.TrimSpace(parts[2]) != "" {
		d, err := parseDuration(parts[2])
		if err != nil {
			return reflect.Value{}, fmt.Sprintf("refresh must be a duration like \"1h\", got %q", clip(parts[2]))
		}
		src.Refresh = d
	}
	return reflect.ValueOf(src), ""
}
