package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// decodeYAML walks the document against the schema by hand instead of
// yaml.Unmarshal, so that every unknown key and every bad value is found
// (Unmarshal stops at the first type error and ignores unknown keys) and
// each problem keeps its line number.
func decodeYAML(data []byte, cfg *Config, ps *problemSet) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return // empty file: defaults only
		}
		ps.addAt("(file)", 0, "is not valid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		return
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		line := extra.Line
		if err != nil {
			line = 0
		}
		ps.addAt("(file)", line, "holds more than one YAML document; put everything in one")
		return
	}
	if len(doc.Content) == 0 {
		return
	}
	root := resolve(doc.Content[0])
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return
	}
	if root.Kind != yaml.MappingNode {
		ps.addAt("(file)", root.Line, "must be a mapping of sections (server:, storage:, …), got %s", kindName(root))
		return
	}
	d := &decoder{ps: ps, budget: maxPairs}
	d.section(root, reflect.ValueOf(cfg).Elem(), schema().root)
}

type decoder struct {
	ps         *problemSet
	budget     int
	overBudget bool
}

func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return "a single value"
	}
	return "something else"
}

// maxPairs bounds the work merge keys and aliases can cause: nested merges
// of aliased mappings grow exponentially ("billion laughs"), and no real
// configuration comes near this many keys.
const maxPairs = 10000

// pairs returns the key/value pairs of a mapping with YAML merge keys ("<<")
// expanded first, so keys written in the mapping itself win. budget counts
// down the pairs still allowed in the whole document.
func pairs(m *yaml.Node, budget *int, depth int) [][2]*yaml.Node {
	// Charge before recursing: an anchor may be merged into itself.
	*budget -= len(m.Content)/2 + 1
	if *budget < 0 || depth > 64 {
		*budget = -1
		return nil
	}
	var merged, own [][2]*yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], resolve(m.Content[i+1])
		if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.Tag == "!!merge" {
			srcs := []*yaml.Node{v}
			if v.Kind == yaml.SequenceNode {
				srcs = v.Content
			}
			for _, s := range srcs {
				if s = resolve(s); s.Kind == yaml.MappingNode {
					merged = append(merged, pairs(s, budget, depth+1)...)
				}
			}
			continue
		}
		own = append(own, [2]*yaml.Node{k, v})
	}
	if *budget < 0 {
		return nil
	}
	return append(merged, own...)
}

func (d *decoder) section(m *yaml.Node, v reflect.Value, sec *field) {
	seen := map[string]int{} // keys written in this mapping (not merged in)
	all := pairs(m, &d.budget, 0)
	if d.budget < 0 {
		if !d.overBudget {
			d.overBudget = true
			d.ps.addAt("(file)", m.Line, "expands to more than %d keys through aliases and merge keys; write it out plainly", maxPairs)
		}
		return
	}
	ownStart := len(all) - countOwn(m)
	for i, kv := range all {
		k, val := kv[0], kv[1]
		key := k.Value
		path := clip(key)
		if sec.path != "" {
			path = sec.path + "." + clip(key)
		}
		if k.Kind != yaml.ScalarNode {
			d.ps.addAt(sec.pathOrRoot(), k.Line, "has a key that is not a plain name")
			continue
		}
		if i >= ownStart {
			if first, dup := seen[key]; dup {
				d.ps.addAt(path, k.Line, "is set twice (first on line %d); keep one", first)
				continue
			}
			seen[key] = k.Line
		}
		f, ok := sec.byName[key]
		if !ok {
			d.ps.addAt(path, k.Line, "unknown option%s", d.hint(sec, key))
			continue
		}
		d.ps.lines[f.path] = val.Line
		if val.Kind == yaml.ScalarNode && val.Tag == "!!null" {
			continue // "key:" with no value keeps the default
		}
		fv := v.Field(f.index[len(f.index)-1])
		if f.isSection() {
			if val.Kind != yaml.MappingNode {
				d.ps.addAt(f.path, val.Line, "must be a section (a mapping of options), got %s", kindName(val))
				continue
			}
			d.section(val, fv, f)
			continue
		}
		d.leaf(val, fv, f)
	}
}

func countOwn(m *yaml.Node) int {
	n := 0
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := m.Content[i]; !(k.Kind == yaml.ScalarNode && k.Value == "<<" && k.Tag == "!!merge") {
			n++
		}
	}
	return n
}

func (f *field) pathOrRoot() string {
	if f.path == "" {
		return "(file)"
	}
	return f.path
}

// hint suggests the intended option for an unknown key: first a sibling
// with a close spelling, then the same name elsewhere in the schema (an
// option put in the wrong section).
func (d *decoder) hint(sec *field, key string) string {
	names := make([]string, 0, len(sec.children))
	for _, c := range sec.children {
		names = append(names, c.name)
	}
	if s := suggest(key, names); s != "" {
		return fmt.Sprintf(", did you mean `%s`?", sec.byName[s].path)
	}
	var elsewhere []string
	for path, f := range schema().byPath {
		if f.name == key {
			elsewhere = append(elsewhere, path)
		}
	}
	sort.Strings(elsewhere)
	if len(elsewhere) > 0 {
		return fmt.Sprintf(", did you mean `%s`?", strings.Join(elsewhere, "` or `"))
	}
	if sec.path == "" {
		return fmt.Sprintf("; the sections are %s", strings.Join(names, ", "))
	}
	return ""
}

func (d *decoder) leaf(val *yaml.Node, fv reflect.Value, f *field) {
	if f.typ == prefixesType || f.typ == stringsType || f.typ == sourcesType {
		if val.Kind != yaml.SequenceNode {
			d.ps.addAt(f.path, val.Line, "must be a list, got %s", kindName(val))
			return
		}
		elem := elemParser(f.typ)
		out := reflect.MakeSlice(f.typ, 0, len(val.Content))
		bad := false
		for i, item := range val.Content {
			item = resolve(item)
			p := fmt.Sprintf("%s[%d]", f.path, i)
			d.ps.lines[p] = item.Line
			if f.typ == sourcesType && item.Kind == yaml.MappingNode {
				// A mistake inside an item is reported where it is and the
				// rest of the item is still validated, so every problem of
				// the list shows at once.
				out = reflect.Append(out, reflect.ValueOf(d.spSource(item, p)))
				continue
			}
			if item.Kind != yaml.ScalarNode || item.Tag == "!!null" {
				d.ps.addAt(p, item.Line, "must be a single value, got %s", kindName(item))
				bad = true
				continue
			}
			ev, msg := elem(item.Value)
			if msg != "" {
				d.ps.addAt(p, item.Line, "%s", msg)
				bad = true
				continue
			}
			out = reflect.Append(out, ev)
		}
		if !bad {
			fv.Set(out)
		} else {
			d.ps.flagged[f.path] = true
		}
		return
	}
	if val.Kind != yaml.ScalarNode {
		d.ps.addAt(f.path, val.Line, "must be a single value, got %s", kindName(val))
		return
	}
	v, msg := f.leafParser(val.Value)
	if msg != "" {
		d.ps.addAt(f.path, val.Line, "%s", msg)
		return
	}
	fv.Set(v)
}

// spSource reads one idp.sp_sources item written as a mapping.
func (d *decoder) spSource(m *yaml.Node, path string) SPSource {
	src := SPSource{Refresh: DefaultSPSourceRefresh}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], resolve(m.Content[i+1])
		if v.Kind != yaml.ScalarNode {
			d.ps.addAt(path+"."+k.Value, v.Line, "must be a single value, got %s", kindName(v))
			continue
		}
		switch k.Value {
		case "url":
			src.URL = v.Value
		case "file":
			src.File = v.Value
		case "certificate":
			src.Certificate = v.Value
		case "refresh":
			dur, err := parseDuration(v.Value)
			if err != nil {
				d.ps.addAt(path+".refresh", v.Line, "must be a duration like \"1h\", got %q", clip(v.Value))
				continue
			}
			src.Refresh = dur
		default:
			hint := ""
			if s := suggest(k.Value, []string{"url", "file", "certificate", "refresh"}); s != "" {
				hint = fmt.Sprintf(", did you mean `%s`?", s)
			}
			d.ps.addAt(path+"."+k.Value, k.Line, "unknown key%s (want url or file, certificate, refresh)", hint)
		}
	}
	return src
}
