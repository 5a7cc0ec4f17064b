package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/internal/testenv"
	"github.com/spid-idp/spid-idp/storage"
)

// buildBinary compiles spid-idp once for a test that runs it as a process
// (to kill it).
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "spid-idp")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go build: %v", err)
	}
	return bin
}

// importFile writes n valid identities (distinct usernames and fiscal
// codes, one shared password hash, a TOTP seed on every tenth) as CSV.
func importFile(t *testing.T, n int) string {
	t.Helper()
	hash := importHash(t, testPassword)
	var b strings.Builder
	b.WriteString("username,name,familyName,fiscalNumber,password_hash,totp_secret\n")
	for i := range n {
		cf := withCheck(fmt.Sprintf("RSSMRA%02dA01H%03d", 50+i/1000, i%1000))
		seed := ""
		if i%10 == 0 {
			seed = legacySeed
		}
		fmt.Fprintf(&b, "user%05d,Mario,Rossi,%s,\"%s\",%s\n", i, cf, hash, seed)
	}
	return writeTemp(t, "identities.csv", []byte(b.String()))
}

// TestUserImportKilledIsAllOrNothing runs the built binary on a 5,000-row
// file and kills it (SIGKILL) at several moments: each time the store
// holds either no imported identity or all of them, every one with its
// audit record, and `audit verify` passes. The old import, one row at a
// time, left a partial import (and once an identity without its record).
func TestUserImportKilledIsAllOrNothing(t *testing.T) {
	bin := buildBinary(t)
	const rows = 5000
	file := importFile(t, rows)
	backends := map[string]func(d *demoEnv){"sqlite": func(*demoEnv) {}}
	if os.Getenv("SPID_TEST_POSTGRES") != "" || os.Getenv("SPID_TEST_REQUIRE_BACKENDS") != "" {
		backends["postgres"] = func(d *demoEnv) {
			dsn, _ := testenv.PostgresSchema(t, "import_kill_")
			d.setEnv("SPID_IDP_STORAGE_DRIVER", "postgres")
			d.setEnv("SPID_IDP_STORAGE_POSTGRES_DSN", dsn)
		}
	}
	for name, setup := range backends {
		t.Run(name, func(t *testing.T) {
			d := newDemoEnv(t)
			d.setEnv("SPID_IDP_SECURITY_DATA_KEY", b64(keyA))
			setup(d)
			count := func() (identities, records int) {
				d.withStore(func(st storage.Store) {
					ids, err := st.ListIdentities(context.Background())
					if err != nil {
						t.Fatal(err)
					}
					identities = len(ids)
					evs, err := st.ListAudit(context.Background(), 0, 100000)
					if err != nil {
						t.Fatal(err)
					}
					recorded := map[string]bool{}
					for _, ev := range evs {
						if ev.Action == "user.import" && ev.Outcome == "success" {
							records++
							recorded[ev.Target] = true
						}
					}
					for _, id := range ids {
						if !recorded[id.ID] {
							t.Errorf("identity %s imported without its audit record", id.Username)
						}
					}
				})
				return
			}
			verify := func(when string) {
				out, err := d.runBinary(bin, "audit", "verify")
				if err != nil {
					t.Fatalf("%s: audit verify: %v\n%s", when, err, out)
				}
			}
			done := false
			// Kill points count from the moment the command says it starts
			// writing (after reading and checking the file), so they land
			// in the write whatever the machine's speed; the first kills
			// it while it still checks.
			for _, after := range []time.Duration{-1, 0, 50 * time.Millisecond, 150 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, 1600 * time.Millisecond, 3 * time.Second, 6 * time.Second} {
				cmd := d.command(bin, "user", "import", "--file", file)
				stderr, err := cmd.StderrPipe()
				if err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				writing := make(chan struct{})
				go func() {
					sc := bufio.NewScanner(stderr)
					closed := false
					for sc.Scan() {
						if !closed && strings.Contains(sc.Text(), "writing") {
							close(writing)
							closed = true
						}
					}
					if !closed {
						close(writing)
					}
				}()
				if after >= 0 {
					<-writing
					time.Sleep(after)
				} else {
					time.Sleep(50 * time.Millisecond)
				}
				_ = cmd.Process.Signal(syscall.SIGKILL)
				err = cmd.Wait()
				exited := cmd.ProcessState.Exited()
				n, recs := count()
				t.Logf("kill -9 %v after the write began: identities %d, import records %d (process %s after %v)",
					after, n, recs, map[bool]string{true: "had finished: " + fmt.Sprint(err), false: "killed"}[exited], time.Since(start).Round(time.Millisecond))
				if n != 0 && n != rows || recs != n {
					t.Fatalf("kill -9 after %v left %d of %d identities and %d import records: not all or nothing", after, n, rows, recs)
				}
				verify(fmt.Sprintf("after kill at %v", after))
				if n == rows {
					done = true
					break
				}
			}
			if !done {
				out, err := d.runBinary(bin, "user", "import", "--file", file)
				if err != nil {
					t.Fatalf("import run to the end: %v\n%s", err, out)
				}
				if n, recs := count(); n != rows || recs != rows {
					t.Fatalf("after a full run: %d identities, %d records, want %d", n, recs, rows)
				}
				verify("after the full run")
			}
			// Run again: everything is there, so every row is refused and
			// nothing more is written.
			out, err := d.runBinary(bin, "user", "import", "--file", file)
			if err == nil || !strings.Contains(out, "already used") {
				t.Fatalf("second import of the same file: %v\n%.500s", err, out)
			}
			if n, recs := count(); n != rows || recs != rows {
				t.Fatalf("after the repeated import: %d identities, %d records", n, recs)
			}
		})
	}
}

func (d *demoEnv) command(bin string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + d.dir}, d.environ...)
	return cmd
}

func (d *demoEnv) runBinary(bin string, args ...string) (string, error) {
	out, err := d.command(bin, args...).CombinedOutput()
	return string(out), err
}
