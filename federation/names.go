package federation

import (
	"slices"
	"strings"
)

// Human-readable metadata (organization_name, client_name, …) may carry
// one value per language in members named "<member>#<language tag>", the
// convention OpenID Connect Dynamic Client Registration §2.1 defines for
// client metadata and federation metadata shares: organization_name#en
// next to the untagged organization_name.

// LocalNames returns the language-tagged values of member in md, keyed by
// the tag's primary language subtag in lower case ("en" for "en-GB"). A
// tag without region wins over a regional one; empty values and malformed
// tags are ignored. The untagged member is not included: its language is
// unknown. Nil when there is none.
func LocalNames(md map[string]any, member string) map[string]string {
	keys := make([]string, 0, len(md))
	for k := range md {
		if strings.HasPrefix(k, member+"#") {
			keys = append(keys, k)
		}
	}
	// Sorted, so which of two regional variants wins does not follow map
	// iteration order.
	slices.Sort(keys)
	var out map[string]string
	exact := map[string]bool{}
	for _, k := range keys {
		s, _ := md[k].(string)
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		primary, _, regional := strings.Cut(strings.ToLower(k[len(member)+1:]), "-")
		if _, seen := out[primary]; !isLanguage(primary) || exact[primary] || (seen && regional) {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[primary], exact[primary] = s, !regional
	}
	return out
}

// isLanguage: a BCP 47 primary language subtag (2–3 letters).
func isLanguage(s string) bool {
	if len(s) < 2 || len(s) > 3 {
		return false
	}
	for _, c := range s {
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// LocalName is names[lang] when present, else fallback.
func LocalName(names map[string]string, lang, fallback string) string {
	if n := names[lang]; n != "" {
		return n
	}
	return fallback
}
