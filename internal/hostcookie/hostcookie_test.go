package hostcookie

import "testing"

func TestName(t *testing.T) {
	for _, c := range []struct {
		name   string
		secure bool
		want   string
	}{
		{"spid_browser", true, "__Host-spid_browser"},
		{"spid_browser", false, "spid_browser"},
	} {
		if got := Name(c.name, c.secure); got != c.want {
			t.Errorf("Name(%q, %t) = %q, want %q", c.name, c.secure, got, c.want)
		}
	}
}
