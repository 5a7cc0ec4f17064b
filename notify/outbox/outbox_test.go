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
