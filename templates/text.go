package templates

import (
	"strings"
	"sync"
)

var (
	textOnce sync.Once
	textCats map[string]catalog
)

// Text is the message key of the catalogues in lang (Italian when lang or
// the key is missing there), with {name} placeholders filled from args
// given as name, value pairs: for messages built in Go (an error summary
// entry) that must read like the pages around them. An unknown key comes
// back as itself, which a test on the catalogues catches.
func Text(lang, key string, args ...string) string {
	textOnce.Do(func() {
		cats, err := loadCatalogs()
		if err != nil {
			cats = map[string]catalog{}
		}
		textCats = cats
	})
	msg, ok := textCats[lang][key]
	if !ok {
		if msg, ok = textCats[DefaultLanguage][key]; !ok {
			return key
		}
	}
	for i := 0; i+1 < len(args); i += 2 {
		msg = strings.ReplaceAll(msg, "{"+args[i]+"}", args[i+1])
	}
	return msg
}

// HasText reports whether key is in the catalogue of every language.
func HasText(key string) bool {
	Text(DefaultLanguage, key)
	for _, l := range Languages {
		if _, ok := textCats[l][key]; !ok {
			return false
		}
	}
	return true
}
