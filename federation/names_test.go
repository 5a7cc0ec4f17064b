package federation

import (
	"maps"
	"testing"
)

func TestLocalNames(t *testing.T) {
	for _, tc := range []struct {
		name string
		md   map[string]any
		want map[string]string
	}{
		{"untagged only", map[string]any{"organization_name": "Ente"}, nil},
		{"english and italian", map[string]any{"organization_name": "Ente", "organization_name#en": "Agency", "organization_name#it": " Ente "},
			map[string]string{"en": "Agency", "it": "Ente"}},
		{"region folded, plain tag wins", map[string]any{"organization_name#en-GB": "Agency (GB)", "organization_name#en": "Agency"},
			map[string]string{"en": "Agency"}},
		{"two regions: first by name", map[string]any{"organization_name#en-US": "US", "organization_name#EN-GB": "GB"},
			map[string]string{"en": "GB"}},
		{"bad tags and values ignored", map[string]any{"organization_name#": "x", "organization_name#e1": "x", "organization_name#english": "x",
			"organization_name#de": 3, "organization_name#fr": "  ", "organization_namex#en": "x", "client_name#en": "x"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := LocalNames(tc.md, "organization_name"); !maps.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	names := map[string]string{"en": "Agency"}
	if got := LocalName(names, "en", "Ente"); got != "Agency" {
		t.Errorf("en: %q", got)
	}
	if got := LocalName(names, "it", "Ente"); got != "Ente" {
		t.Errorf("it falls back: %q", got)
	}
}
