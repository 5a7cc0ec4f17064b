package config

import (
	_ "embed"
	"fmt"
	"reflect"
	"strings"
)

// Example is a complete, commented production configuration.
//
//go:embed example.yaml
var Example []byte

// Reference renders every option as a Markdown table (option, environment
// variable, default, description) for the README. It is generated from the
// struct tags, so it cannot drift from what Load accepts.
func Reference() string {
	var b strings.Builder
	b.WriteString("| Option | Environment variable | Default | Description |\n")
	b.WriteString("|---|---|---|---|\n")
	for _, f := range schema().leaves {
		def := ""
		switch {
		case f.def != "":
			def = "`" + f.def + "`"
		case f.defDoc != "":
			def = f.defDoc
		}
		desc := f.doc
		if parent := schema().parentOf(f); parent != nil && parent.typ == reflect.TypeFor[Localized]() {
			desc = parent.doc + " Language: " + strings.TrimSuffix(f.doc, ".") + "."
		}
		if f.secret() {
			desc += " **Secret**: prefer `" + f.env + "_FILE`."
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | %s | %s |\n", f.path, f.env, mdEscape(def), mdEscape(desc))
	}
	b.WriteString("\nEvery variable also has a `_FILE` form naming a file whose content (without the trailing newline) is the value. ")
	b.WriteString("Lists are comma-separated in variables. Durations are written like `30s`, `5m`, `24h` or `30d`; sizes like `65536` or `64KiB`.\n")
	return b.String()
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
