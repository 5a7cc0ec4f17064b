package outbox

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "box")
	at := time.Date(2026, 11, 25, 10, 41, 54, 123456789, time.FixedZone("CET", 3600))
	p1, err := Write(dir, ".msg", at, []byte("one"))
	if err != nil {
		t.Fatal(err)
	}
	p2, err := Write(dir, ".msg", at, []byte("two"))
	if err != nil {
		t.Fatal(err)
	}
	if p1 == p2 {
		t.Fatal("two messages in the same nanosecond share a file")
	}
	base := filepath.Base(p1)
	if !strings.HasPrefix(base, "20261125T094154.123456789Z-") || !strings.HasSuffix(base, ".msg") {
		t.Errorf("name %q: want UTC time first, ext last", base)
	}
	if b, err := os.ReadFile(p1); err != nil || string(b) != "one" {
		t.Errorf("content %q, %v", b, err)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, p1: 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %o, want %o", path, got, want)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("%d entries, want 2 (no temporary left)", len(entries))
	}
}

func TestWriteNoDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(filepath.Join(file, "sub"), ".msg", time.Now(), nil); err == nil {
		t.Error("want an error when the directory cannot be made")
	}
}

func TestNewest(t *testing.T) {
	dir := t.TempDir()
	if got, err := Newest(filepath.Join(dir, "missing"), ".msg"); err != nil || got != nil {
		t.Errorf("missing dir: %v, %v; want no messages", got, err)
	}
	base := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	var want []string
	for i := range 3 {
		p, err := Write(dir, ".msg", base.Add(time.Duration(i)*time.Second), nil)
		if err != nil {
			t.Fatal(err)
		}
		want = append([]string{p}, want...)
	}
	// Neither a file being written nor another kind of message is listed.
	for _, n := range []string{".20261125T110000.000000000Z-000000000000.tmp", "20261125T110000.000000000Z-000000000000.sms"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Newest(dir, ".msg")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Newest = %v, want %v", got, want)
	}
}
