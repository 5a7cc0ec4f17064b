package console

import "testing"

// TestPlaceWords: the case page names the place of birth as the document
// does, with the code after it; an unknown code stays as it is.
func TestPlaceWords(t *testing.T) {
	for _, c := range []struct{ lang, code, born, want string }{
		{"it", "F205", "1985-12-01", "Milano (MI) – F205"},
		{"en", "F205", "1985-12-01", "Milano (MI) – F205"},
		{"it", "Z110", "1985-12-01", "Francia (estero) – Z110"},
		{"en", "Z110", "1985-12-01", "France (abroad) – Z110"},
		{"it", "Q999", "1985-12-01", "Q999"},
		{"it", "", "1985-12-01", ""},
	} {
		if got := placeWords(c.lang, c.code, c.born); got != c.want {
			t.Errorf("placeWords(%s, %s) = %q, want %q", c.lang, c.code, got, c.want)
		}
	}
}
