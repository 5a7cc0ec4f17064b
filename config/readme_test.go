package config

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEReference keeps the README's configuration table in step with
// the code: regenerate it with `spid-idp config reference`.
func TestREADMEReference(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), Reference()) {
		t.Fatal("README.md's configuration reference differs from config.Reference(); regenerate it with `spid-idp config reference`")
	}
	// Regenerating by pasting the whole output under the old table once left
	// the closing paragraph in the README five times.
	last := Reference()[strings.LastIndex(strings.TrimSuffix(Reference(), "\n"), "\n")+1:]
	if n := strings.Count(string(b), last); n != 1 {
		t.Fatalf("README.md holds the reference's closing paragraph %d times, want once", n)
	}
}
