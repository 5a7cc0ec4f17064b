package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"strconv"
	"text/template"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// A migration file is NNNN_name.sql (every flavour) or NNNN_name.<flavour>.sql
// (that flavour only; it wins over a shared file with the same number).
var migrationName = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)(?:\.([a-z]+))?\.sql$`)

type migration struct {
	num  int
	name string
	sql  string
}

// migrations returns the flavour's migrations, numbered 1..n without gaps; a
// number with no file for this flavour is a no-op that is still recorded.
func (f *Flavor) migrations() ([]migration, error) {
	if f.Types.Time == "" || f.Types.JSON == "" || f.Types.Blob == "" || f.Types.Int64 == "" {
		return nil, fmt.Errorf("flavour %q leaves a column type undefined: %+v", f.Name, f.Types)
	}
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	byNum := map[int]migration{}
	flavoured := map[int]bool{}
	maxNum := 0
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration file %q: bad name", e.Name())
		}
		num, _ := strconv.Atoi(m[1])
		maxNum = max(maxNum, num)
		if m[3] != "" && m[3] != f.Name || m[3] == "" && flavoured[num] {
			continue
		}
		text, err := fs.ReadFile(migrationFiles, "migrations/"+e.Name())
		if err != nil {
			return nil, err
		}
		tmpl, err := template.New(e.Name()).Option("missingkey=error").Parse(string(text))
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", e.Name(), err)
		}
		var b bytes.Buffer
		if err := tmpl.Execute(&b, f.Types); err != nil {
			return nil, fmt.Errorf("migration %s: %w", e.Name(), err)
		}
		byNum[num] = migration{num: num, name: m[2], sql: b.String()}
		flavoured[num] = m[3] != ""
	}
	out := make([]migration, 0, maxNum)
	for num := 1; num <= maxNum; num++ {
		m, ok := byNum[num]
		if !ok {
			m = migration{num: num, name: "noop"}
		}
		out = append(out, m)
	}
	return out, nil
}

// migrate applies the missing migrations, each in its own transaction
// together with its row in the migrations table. Concurrent migrators are
// serialised by the flavour's MigrationLock (or single writer), and each
// re-checks under the lock whether its migration is already there.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := s.f.migrations()
	if err != nil {
		return fmt.Errorf("%s: load migrations: %w", s.f.Name, err)
	}
	noops := 0
	for _, m := range ms {
		if m.sql == "" {
			noops++
		}
	}
	if s.upToDate(ctx, len(ms), noops) {
		return nil
	}
	for _, m := range ms {
		err := s.write(ctx, func(tx *sql.Tx) error { return s.applyMigration(ctx, tx, m, len(ms)) })
		if err != nil {
			return fmt.Errorf("%s: migration %04d_%s: %w", s.f.Name, m.num, m.name, err)
		}
	}
	return nil
}

// upToDate reports whether every known migration is recorded, reading only:
// then a role without the right to create tables (as production should run)
// can open the store. Any doubt, a missing table included, says no and
// leaves the decision to the locked path.
//
// Migration numbers are handed out ahead of landing, so a database may have
// recorded a number as a no-op (a gap when it was migrated) that this
// program fills: more recorded no-ops than this program has also says no.
func (s *Store) upToDate(ctx context.Context, known, noops int) bool {
	var n, latest, recordedNoops int
	err := s.db.QueryRowContext(ctx, "SELECT COUNT(*), COALESCE(MAX(num), 0), "+
		"COALESCE(SUM(CASE WHEN name = 'noop' THEN 1 ELSE 0 END), 0) FROM migrations").Scan(&n, &latest, &recordedNoops)
	return err == nil && n == known && latest == known && recordedNoops == noops
}

func (s *Store) applyMigration(ctx context.Context, tx *sql.Tx, m migration, known int) error {
	if s.f.MigrationLock != "" {
		if _, err := tx.ExecContext(ctx, s.f.MigrationLock); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
	}
	_, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS migrations (
    num        INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at `+s.f.Types.Time+` NOT NULL
)`)
	if err != nil {
		return err
	}
	var latest, applied int
	if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(num), 0) FROM migrations").Scan(&latest); err != nil {
		return err
	}
	if err := tx.QueryRowContext(ctx, s.q("SELECT COUNT(*) FROM migrations WHERE num = ?"), m.num).Scan(&applied); err != nil {
		return err
	}
	if latest > known {
		// Running an old binary against a newer schema could corrupt data.
		return fmt.Errorf("database schema is at migration %d, this program knows only up to %d", latest, known)
	}
	if applied > 0 {
		var name string
		if err := tx.QueryRowContext(ctx, s.q("SELECT name FROM migrations WHERE num = ?"), m.num).Scan(&name); err != nil {
			return err
		}
		if name != "noop" || m.sql == "" {
			return nil
		}
		// Recorded as a gap by a program that did not have this migration
		// yet (a later number landed first): apply it now.
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.q("UPDATE migrations SET name = ?, applied_at = ? WHERE num = ?"), m.name, s.timeArg(nowUTC()), m.num)
		return err
	}
	if m.sql != "" {
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return err
		}
	}
	_, err = tx.ExecContext(ctx, s.q("INSERT INTO migrations (num, name, applied_at) VALUES (?, ?, ?)"),
		m.num, m.name, s.timeArg(nowUTC()))
	return err
}
