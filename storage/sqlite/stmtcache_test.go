package sqlite

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"modernc.org/sqlite"
)

func openCaching(tb testing.TB) *sql.DB {
	tb.Helper()
	db := sql.OpenDB(cachingConnector{dsn: filepath.Join(tb.TempDir(), "c.db"), drv: &sqlite.Driver{}})
	tb.Cleanup(func() { _ = db.Close() })
	db.SetMaxOpenConns(1) // one connection: every statement meets the same cache
	if _, err := db.Exec("CREATE TABLE t (n INTEGER PRIMARY KEY)"); err != nil {
		tb.Fatal(err)
	}
	for n := 1; n <= 3; n++ {
		if _, err := db.Exec("INSERT INTO t (n) VALUES (?)", n); err != nil {
			tb.Fatal(err)
		}
	}
	return db
}

func cached(t *testing.T, db *sql.DB) (texts []string) {
	t.Helper()
	c, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Raw(func(dc any) error {
		for e := dc.(*cachingConn).lru.Front(); e != nil; e = e.Next() {
			texts = append(texts, e.Value.(*cachedStmt).query)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return texts
}

// TestStmtCache: a statement run twice is prepared once and gives the
// second call's results; the same text queried again while its first rows
// are open (nested) runs uncached beside them; eviction with rows open
// leaves those rows readable.
func TestStmtCache(t *testing.T) {
	db := openCaching(t)
	const q = "SELECT n FROM t WHERE n >= ? ORDER BY n"
	sum := func(rows *sql.Rows) (s int) {
		t.Helper()
		defer rows.Close()
		for rows.Next() {
			var n int
			if err := rows.Scan(&n); err != nil {
				t.Fatal(err)
			}
			s += n
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, tc := range []struct{ from, want int }{{1, 6}, {2, 5}, {3, 3}, {4, 0}} {
		rows, err := db.Query(q, tc.from)
		if err != nil {
			t.Fatal(err)
		}
		if got := sum(rows); got != tc.want {
			t.Errorf("n >= %d: sum %d, want %d", tc.from, got, tc.want)
		}
	}
	// Most recently used first: the query, then the setup's two texts.
	if texts := cached(t, db); len(texts) != 3 || texts[0] != q {
		t.Errorf("kept %q, want the query once and the setup's two statements", texts)
	}

	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	outer, err := tx.Query(q, 1)
	if err != nil {
		t.Fatal(err)
	}
	outer.Next()
	inner, err := tx.Query(q, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got := sum(inner); got != 5 {
		t.Errorf("nested query: sum %d, want 5", got)
	}
	// Evict the outer rows' statement while they are open.
	for i := range maxCachedStmts + 2 {
		if _, err := tx.Exec(fmt.Sprintf("UPDATE t SET n = n WHERE n = %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	var n, rest int
	if err := outer.Scan(&n); err != nil {
		t.Fatal(err)
	}
	rest = sum(outer)
	if n != 1 || rest != 5 {
		t.Errorf("outer rows after nesting and eviction: %d then %d, want 1 then 5", n, rest)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if texts := cached(t, db); len(texts) != maxCachedStmts {
		t.Errorf("%d statements kept, want the bound %d", len(texts), maxCachedStmts)
	}
	rows, err := db.Query(q, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got := sum(rows); got != 3 {
		t.Errorf("after eviction: sum %d, want 3", got)
	}
	// A failing statement is reported, and the connection still works.
	if _, err := db.Exec("INSERT INTO t (n) VALUES (?)", 1); err == nil {
		t.Error("duplicate key accepted")
	}
	if _, err := db.Exec("INSERT INTO t (n) VALUES (?)", 9); err != nil {
		t.Errorf("after a failed insert: %v", err)
	}
}

// BenchmarkStmtCache: one indexed lookup, prepared each time (the driver's
// own behaviour) and kept.
func BenchmarkStmtCache(b *testing.B) {
	for _, kept := range []bool{false, true} {
		b.Run(fmt.Sprintf("kept=%v", kept), func(b *testing.B) {
			db := openCaching(b)
			q := "SELECT n FROM t WHERE n = ?"
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if !kept {
					// A text of its own each time: nothing to reuse.
					q = fmt.Sprintf("SELECT n FROM t WHERE n = ? AND %d = %d", i, i)
				}
				var n int
				if err := db.QueryRow(q, 2).Scan(&n); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
