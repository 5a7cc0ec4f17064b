package sqlstore

import (
	"strings"
	"testing"
	"time"
)

func TestRebind(t *testing.T) {
	numbered := &Flavor{Numbered: true}
	plain := &Flavor{}
	tests := []struct{ in, numbered string }{
		{"SELECT 1", "SELECT 1"},
		{"SELECT a FROM t WHERE k = ?", "SELECT a FROM t WHERE k = $1"},
		{"INSERT INTO t (a, b, c) VALUES (?, ?, ?)", "INSERT INTO t (a, b, c) VALUES ($1, $2, $3)"},
		{"? ? ? ? ? ? ? ? ? ? ?", "$1 $2 $3 $4 $5 $6 $7 $8 $9 $10 $11"},
	}
	for _, tc := range tests {
		if got := numbered.rebind(tc.in); got != tc.numbered {
			t.Errorf("numbered rebind(%q) = %q, want %q", tc.in, got, tc.numbered)
		}
		if got := plain.rebind(tc.in); got != tc.in {
			t.Errorf("plain rebind(%q) = %q, want it unchanged", tc.in, got)
		}
	}
}

func TestMigrationsPerFlavour(t *testing.T) {
	for _, tc := range []struct {
		flavour Flavor
		want    []string // fragments the flavour's migrations must contain
		notWant []string
	}{
		{
			Flavor{Name: "sqlite", Types: Types{Time: "TEXT", JSON: "TEXT", Blob: "BLOB", Int64: "INTEGER"}},
			[]string{"occurred_at TEXT NOT NULL", "metadata_xml BLOB", "RAISE(ABORT", "secret          BLOB NOT NULL", "last_step       INTEGER"},
			[]string{"plpgsql", "{{"},
		},
		{
			Flavor{Name: "postgres", Types: Types{Time: "TIMESTAMPTZ", JSON: "JSONB", Blob: "BYTEA", Int64: "BIGINT"}},
			[]string{"occurred_at TIMESTAMPTZ NOT NULL", "attributes    JSONB", "seq         BIGINT", "plpgsql", "BEFORE TRUNCATE",
				"public_key      BYTEA NOT NULL", "last_step       BIGINT", "last_used_at    TIMESTAMPTZ"},
			[]string{"RAISE(ABORT", "{{"},
		},
	} {
		ms, err := tc.flavour.migrations()
		if err != nil {
			t.Fatalf("%s: %v", tc.flavour.Name, err)
		}
		var all strings.Builder
		for i, m := range ms {
			if m.num != i+1 {
				t.Errorf("%s: migration %d has number %d", tc.flavour.Name, i, m.num)
			}
			all.WriteString(m.sql)
		}
		for _, w := range tc.want {
			if !strings.Contains(all.String(), w) {
				t.Errorf("%s migrations lack %q", tc.flavour.Name, w)
			}
		}
		for _, w := range tc.notWant {
			if strings.Contains(all.String(), w) {
				t.Errorf("%s migrations contain %q", tc.flavour.Name, w)
			}
		}
	}
}

// A flavour without a column type must fail loudly, not create columns
// without a type.
func TestMigrationsNeedTypes(t *testing.T) {
	f := Flavor{Name: "sqlite", Types: Types{Time: "TEXT", JSON: "TEXT", Blob: "BLOB"}}
	if _, err := f.migrations(); err == nil || !strings.Contains(err.Error(), "undefined") {
		t.Errorf("migrations() with no Int64 type: err = %v", err)
	}
}

func TestTimeValues(t *testing.T) {
	rome := time.FixedZone("CEST", 2*3600)
	in := time.Date(2026, 7, 1, 10, 0, 0, 123456789, rome)
	text := (&Store{f: Flavor{TimeAsText: true}}).timeArg(in)
	if text != "2026-07-01T08:00:00.123456Z" {
		t.Errorf("text time = %v", text)
	}
	native := (&Store{}).timeArg(in).(time.Time)
	if native.Location() != time.UTC || native.Nanosecond() != 123456000 {
		t.Errorf("native time = %v", native)
	}
	if v := (&Store{}).timeArg(time.Time{}); v != nil {
		t.Errorf("zero time bound as %v, want NULL", v)
	}

	for _, src := range []any{text, []byte(text.(string)), native.In(rome)} {
		var got time.Time
		if err := (timeDest{&got}).Scan(src); err != nil {
			t.Fatalf("Scan(%T): %v", src, err)
		}
		if got.Location() != time.UTC || !got.Equal(native) {
			t.Errorf("Scan(%T) = %v, want %v in UTC", src, got, native)
		}
	}
	var got time.Time
	for _, bad := range []any{"yesterday", 42} {
		if err := (timeDest{&got}).Scan(bad); err == nil {
			t.Errorf("Scan(%v) succeeded", bad)
		}
	}
	got = time.Now()
	if err := (timeDest{&got}).Scan(nil); err != nil || !got.IsZero() {
		t.Errorf("Scan(NULL) = %v, %v; want the zero time", got, err)
	}
}

func TestMapValues(t *testing.T) {
	var m map[string]string
	if err := (mapDest{&m}).Scan(jsonArg(map[string]string{"a": "b"})); err != nil || m["a"] != "b" {
		t.Errorf("round trip = %v, %v", m, err)
	}
	if jsonArg(nil) != "{}" {
		t.Errorf("jsonArg(nil) = %q", jsonArg(nil))
	}
	for _, bad := range []any{"[1]", "{", 3.5} {
		if err := (mapDest{&m}).Scan(bad); err == nil {
			t.Errorf("Scan(%v) succeeded", bad)
		}
	}
}
