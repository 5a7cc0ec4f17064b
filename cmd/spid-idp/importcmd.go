package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/spid-idp/spid-idp/app"
	"github.com/spid-idp/spid-idp/identity"
	"github.com/spid-idp/spid-idp/idp/otp"
	"github.com/spid-idp/spid-idp/idp/password"
	"github.com/spid-idp/spid-idp/idp/push"
	"github.com/spid-idp/spid-idp/keys/datakey"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/storage"
)

func init() {
	register("user import", "migrate identities from a previous system: a JSON or CSV file with attributes, argon2id password hashes and TOTP seeds (--dry-run checks only)", runUserImport)
}

const (
	// importMaxBytes bounds the file read into memory.
	importMaxBytes = 64 << 20
	// maxDeviceName matches the limit of the activation page.
	maxDeviceName = 64
	// importedDeviceName names a migrated authenticator when the file or
	// the command gives no name.
	importedDeviceName = "App (migrated)"
)

// importRow is one identity of an import file. In JSON it is an object
// with these keys; in CSV the header names the columns, and every other
// column is a SPID attribute.
type importRow struct {
	Username       string            `json:"username"`
	Type           int               `json:"type"`
	Attributes     map[string]string `json:"attributes"`
	PasswordHash   string            `json:"password_hash"`
	TOTPSecret     string            `json:"totp_secret"`
	TOTPDeviceName string            `json:"totp_device_name"`
}

// importPlan is a validated row, ready to write.
type importPlan struct {
	row      int
	identity storage.Identity
	hash     string // "" when the file gives none
	seed     []byte // nil without a TOTP device
	devName  string
}

// rowProblem is an invalid row and everything wrong with it.
type rowProblem struct {
	row      int
	username string
	problems []string
}

func runUserImport(ctx context.Context, e env, args []string) int {
	fs := newFlagSet("user import", e)
	path := configFlag(fs, e)
	file := fs.String("file", "", "the identities to import: `FILE`.json (an array of objects) or FILE.csv (a header row, then one identity per row) (required)")
	dryRun := fs.Bool("dry-run", false, "check every row and report, write nothing")
	skipInvalid := fs.Bool("skip-invalid", false, "import the valid rows even when others are invalid (by default one invalid row stops the whole import)")
	prefix := fs.String("spid-code-prefix", "", "the provider's 4-letter code for rows without a spidCode (default idp.spid_code_prefix)")
	fs.Usage = func() {
		fmt.Fprint(e.stderr, importUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 || *file == "" {
		fmt.Fprintln(e.stderr, "usage: spid-idp user import [-c FILE] --file F.json|F.csv [--dry-run] [--skip-invalid]")
		return exitUsage
	}
	rows, err := readImportFile(*file)
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp user import: %v\n", err)
		return exitUsage
	}
	a, code, ok := openAdmin(ctx, e, *path)
	if !ok {
		return code
	}
	defer a.close()
	if *prefix == "" {
		*prefix = a.cfg.IdP.SPIDCodePrefix
	}
	sealer, err := a.dataSealer()
	if err != nil && !errors.Is(err, errNoDataKey) {
		fmt.Fprintf(e.stderr, "spid-idp user import: %v\n", err)
		return exitUsage
	}
	existing, err := a.store.ListIdentities(ctx)
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp user import: %v\n", err)
		return exitFailure
	}
	plans, bad := planImport(rows, existing, *prefix, sealer != nil, time.Now().UTC())
	for _, b := range bad {
		who := ""
		if b.username != "" {
			who = " (" + oneLine(b.username) + ")"
		}
		fmt.Fprintf(e.stderr, "row %d%s:\n", b.row, who)
		for _, p := range b.problems {
			fmt.Fprintf(e.stderr, "  %s\n", p)
		}
	}
	base := filepath.Base(*file)
	if len(bad) > 0 && !*skipInvalid {
		fmt.Fprintf(e.stderr, "spid-idp user import: %d of %d row(s) invalid; nothing imported (fix them, or use --skip-invalid to import the %d valid row(s))\n", len(bad), len(rows), len(plans))
		if *dryRun {
			return exitFailure
		}
		return a.fail(ctx, "user.import", "", map[string]string{"file": base, "rows": fmt.Sprint(len(rows)), "invalid": fmt.Sprint(len(bad)), "error": "invalid input"})
	}
	if *dryRun {
		fmt.Fprintf(e.stdout, "dry run: %d row(s) would be imported, %d skipped as invalid; nothing written\n", len(plans), len(bad))
		return exitOK
	}
	for _, b := range bad {
		a.fail(ctx, "user.import", "", map[string]string{"file": base, "row": fmt.Sprint(b.row),
			"username": strings.ToLower(oneLine(b.username)), "error": "invalid input, skipped"})
	}
	// One transaction for every row and its audit record: a crash or kill
	// at any moment leaves either the whole file imported, each identity
	// with its record, or nothing (then simply run the import again).
	batch := make([]storage.ImportedIdentity, 0, len(plans))
	noPassword := 0
	for _, p := range plans {
		item, err := importItem(sealer, p)
		if err != nil {
			fmt.Fprintf(e.stderr, "spid-idp user import: row %d (%s): %v\n", p.row, p.identity.Username, err)
			fmt.Fprintf(e.stderr, "spid-idp user import: nothing imported\n")
			return a.fail(ctx, "user.import", "", map[string]string{"file": base, "row": fmt.Sprint(p.row),
				"username": p.identity.Username, "error": "device"})
		}
		details := map[string]string{"file": base, "row": fmt.Sprint(p.row), "username": p.identity.Username,
			"spid_code": p.identity.Attributes["spidCode"], "type": fmt.Sprint(int(p.identity.Type)),
			"credential_source": "imported hash", "app_device": strconv.FormatBool(p.seed != nil)}
		if p.hash == "" {
			details["credential_source"] = "none"
			noPassword++
		}
		item.Audit = a.audit.Prepare(ctx, storage.AuditEvent{Actor: a.actor, Action: "user.import",
			Target: p.identity.ID, Outcome: "success", Details: details})
		batch = append(batch, item)
	}
	fmt.Fprintf(e.stderr, "spid-idp user import: writing %d identit(ies) in one transaction\n", len(batch))
	if _, err := a.store.ImportIdentities(ctx, batch); err != nil {
		fmt.Fprintf(e.stderr, "spid-idp user import: %v\n", err)
		fmt.Fprintf(e.stderr, "spid-idp user import: nothing imported (the import is all or nothing)\n")
		return a.fail(ctx, "user.import", "", map[string]string{"file": base, "rows": fmt.Sprint(len(plans)), "error": "store"})
	}
	imported := len(batch)
	for _, p := range plans {
		fmt.Fprintf(e.stdout, "imported %s: username %s, spidCode %s%s\n", p.identity.ID, p.identity.Username,
			p.identity.Attributes["spidCode"], map[bool]string{true: ", TOTP device", false: ""}[p.seed != nil])
	}
	fmt.Fprintf(e.stdout, "%d identit(ies) imported, %d invalid row(s) skipped\n", imported, len(bad))
	if noPassword > 0 {
		fmt.Fprintf(e.stdout, "%d identit(ies) have no password and cannot log in until one is set: spid-idp user passwd --password-file FILE USERNAME\n", noPassword)
	}
	return exitOK
}

const importUsage = `usage: spid-idp user import [-c FILE] --file F.json|F.csv [--dry-run] [--skip-invalid]

Migrates identities from a previous identity provider. Every row is checked
first (the same rules as user add, plus uniqueness within the file and
against the store); every problem is listed with its row number, and by
default nothing is written when any row is invalid. Each imported identity
is active and gets its own audit record. The import is one transaction:
every row with its audit record is written, or (on any failure, or if the
command is killed) none is, and the import can simply be run again.

JSON: an array of objects
  {"username": "mario.rossi", "type": 1,
   "attributes": {"name": "Mario", "familyName": "Rossi", "fiscalNumber": "...", ...},
   "password_hash": "$argon2id$v=19$m=65536,t=2,p=1$<salt>$<hash>",
   "totp_secret": "JBSWY3DPEHPK3PXP", "totp_device_name": "Telefono"}
CSV: a header row with username, type, password_hash, totp_secret,
  totp_device_name and any SPID attribute names as columns; then one
  identity per row (row 1 is the first after the header). Quote the
  password_hash field: a PHC string holds commas.

password_hash: the previous system's argon2id hash in PHC form, kept as is
  (it is rehashed with the configured parameters at the first login). Empty:
  the identity has no password and cannot log in until an operator sets
  one with spid-idp user passwd (there is no self-service reset).
totp_secret: the base32 seed of the citizen's authenticator app (at least
  80 bits), sealed with security.data_key: the app keeps working without
  re-enrolment. Only for migration: new devices are activated by the
  citizen.
type: 1 citizen (default), 2 legal person, 3 professional, 4 professional
  for a legal person.

`

// readImportFile reads the rows of a JSON or CSV file, by its extension.
func readImportFile(name string) ([]importRow, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, importMaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(data) > importMaxBytes {
		return nil, fmt.Errorf("%s: larger than %d MiB; split it", name, importMaxBytes>>20)
	}
	var rows []importRow
	switch ext := strings.ToLower(filepath.Ext(name)); ext {
	case ".json":
		rows, err = parseImportJSON(data)
	case ".csv":
		rows, err = parseImportCSV(data)
	default:
		return nil, fmt.Errorf("%s: want a .json or .csv file, got %q", name, ext)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: no identities", name)
	}
	return rows, nil
}

// parseImportJSON decodes each element on its own so an unknown key is
// reported with its row.
func parseImportJSON(data []byte) ([]importRow, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("not a JSON array of identities: %w", err)
	}
	rows := make([]importRow, len(raw))
	var errs []error
	for i, m := range raw {
		dec := json.NewDecoder(bytes.NewReader(m))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rows[i]); err != nil {
			errs = append(errs, fmt.Errorf("row %d: %w", i+1, err))
		}
	}
	return rows, errors.Join(errs...)
}

var importColumns = map[string]bool{"username": true, "type": true, "password_hash": true, "totp_secret": true, "totp_device_name": true}

func parseImportCSV(data []byte) ([]importRow, error) {
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\uFEFF")))) // a BOM from spreadsheets
	r.TrimLeadingSpace = true
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("header row: %w", err)
	}
	seen := map[string]bool{}
	var errs []error
	for i, h := range header {
		h = strings.TrimSpace(h)
		header[i] = h
		_, isAttr := metadata.LookupAttribute(h)
		switch {
		case seen[h]:
			errs = append(errs, fmt.Errorf("header: column %q appears twice", h))
		case !importColumns[h] && !isAttr:
			errs = append(errs, fmt.Errorf("header: column %q is neither a SPID attribute nor one of username, type, password_hash, totp_secret, totp_device_name", h))
		}
		seen[h] = true
	}
	if !seen["username"] {
		errs = append(errs, errors.New("header: no username column"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	var rows []importRow
	for n := 1; ; n++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("row %d: %w", n, err)
		}
		row := importRow{Attributes: map[string]string{}}
		for i, v := range rec {
			switch header[i] {
			case "username":
				row.Username = v
			case "type":
				if strings.TrimSpace(v) != "" {
					t, err := strconv.Atoi(strings.TrimSpace(v))
					if err != nil {
						t = -1 // reported by planImport with the row's other problems
					}
					row.Type = t
				}
			case "password_hash":
				row.PasswordHash = v
			case "totp_secret":
				row.TOTPSecret = v
			case "totp_device_name":
				row.TOTPDeviceName = v
			default:
				if v != "" {
					row.Attributes[header[i]] = v
				}
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// planImport validates every row against the rules of user add, the
// other rows and the existing identities, and returns the plans of the
// valid rows and the problems of the others.
func planImport(rows []importRow, existing []storage.Identity, prefix string, haveDataKey bool, now time.Time) ([]importPlan, []rowProblem) {
	usernames := map[string]string{} // username -> who has it ("row N" or "an existing identity")
	spidCodes := map[string]string{}
	fiscal := map[string]string{} // type|fiscalNumber of identities not revoked
	fiscalKey := func(t storage.IdentityType, cf string) string { return fmt.Sprint(int(t)) + "|" + cf }
	for _, o := range existing {
		usernames[o.Username] = "existing identity " + o.ID
		spidCodes[o.Attributes["spidCode"]] = "existing identity " + o.Username
		if o.Status != storage.IdentityRevoked && o.Status != storage.IdentityExpired {
			fiscal[fiscalKey(o.Type, o.Attributes["fiscalNumber"])] = "existing identity " + o.Username
		}
	}
	var plans []importPlan
	var bad []rowProblem
	for i, r := range rows {
		n := i + 1
		var ps []string
		username := strings.ToLower(strings.TrimSpace(r.Username))
		if !identity.UsernameRE.MatchString(username) {
			ps = append(ps, "username: 3 to 64 characters among a-z 0-9 . _ @ -")
		} else if who, taken := usernames[username]; taken {
			ps = append(ps, "username: already used by "+who)
		}
		typ := storage.IdentityType(r.Type)
		if r.Type == 0 {
			typ = storage.IdentityCitizen
		}
		if typ < storage.IdentityCitizen || typ > storage.IdentityProfessionalForLegal {
			ps = append(ps, "type: must be 1 to 4")
		}
		attrs, aps := identity.NormaliseAttributes(r.Attributes)
		for _, p := range aps {
			ps = append(ps, string(p))
		}
		for _, name := range identity.RequiredAttributes(typ) {
			if strings.TrimSpace(r.Attributes[name]) == "" {
				ps = append(ps, fmt.Sprintf("%s: required for an identity of type %d", name, typ))
			}
		}
		if code := attrs["spidCode"]; code != "" {
			if who, used := spidCodes[code]; used {
				ps = append(ps, "spidCode: already issued to "+who)
			}
		} else if !identity.SPIDPrefixRE.MatchString(prefix) {
			ps = append(ps, fmt.Sprintf("spidCode: none given and the prefix %q is not 4 upper-case letters (set idp.spid_code_prefix or --spid-code-prefix)", prefix))
		}
		if cf := attrs["fiscalNumber"]; cf != "" {
			if who, dup := fiscal[fiscalKey(typ, cf)]; dup {
				ps = append(ps, fmt.Sprintf("fiscalNumber: %s already holds an identity of type %d with it", who, typ))
			}
		}
		hash := strings.TrimSpace(r.PasswordHash)
		if hash != "" {
			if _, err := password.Parse(hash); err != nil {
				ps = append(ps, fmt.Sprintf("password_hash: want an argon2id hash in PHC form ($argon2id$v=19$m=…,t=…,p=…$salt$hash): %v", err))
			}
		}
		var seed []byte
		if strings.TrimSpace(r.TOTPSecret) != "" {
			var err error
			if seed, err = otp.DecodeImportedSeed(r.TOTPSecret); err != nil {
				ps = append(ps, "totp_secret: "+strings.TrimPrefix(err.Error(), "otp: "))
			} else if !haveDataKey {
				ps = append(ps, "totp_secret: security.data_key is not set, so the seed cannot be stored")
			}
		} else if r.TOTPDeviceName != "" {
			ps = append(ps, "totp_device_name: given without totp_secret")
		}
		devName, err := checkDeviceName(r.TOTPDeviceName)
		if err != nil {
			ps = append(ps, "totp_device_name: "+err.Error())
		}
		if len(ps) > 0 {
			bad = append(bad, rowProblem{row: n, username: r.Username, problems: ps})
			continue
		}
		if attrs["spidCode"] == "" {
			c, err := freeSPIDCode(prefix, spidCodes)
			if err != nil {
				bad = append(bad, rowProblem{row: n, username: r.Username, problems: []string{err.Error()}})
				continue
			}
			attrs["spidCode"] = c
		}
		who := fmt.Sprintf("row %d", n)
		usernames[username] = who
		spidCodes[attrs["spidCode"]] = who
		if cf := attrs["fiscalNumber"]; cf != "" {
			fiscal[fiscalKey(typ, cf)] = who
		}
		plans = append(plans, importPlan{row: n, hash: hash, seed: seed, devName: devName,
			identity: storage.Identity{ID: uuid.NewString(), Username: username, Type: typ, Status: storage.IdentityActive,
				Attributes: attrs, CreatedAt: now, UpdatedAt: now}})
	}
	return plans, bad
}

// freeSPIDCode draws a spidCode not in used, as identity.NewSPIDCode does,
// without rebuilding the list of every code for each row (quadratic: most
// of a minute for 5,000 rows).
func freeSPIDCode(prefix string, used map[string]string) (string, error) {
	for range 10 {
		s, err := identity.RandomString("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 10)
		if err != nil {
			return "", err
		}
		if _, taken := used[prefix+s]; !taken {
			return prefix + s, nil
		}
	}
	return "", errors.New("spidCode: no free code found") // 36^10 codes: never in practice
}

// checkDeviceName accepts what the activation page would keep: printable,
// at most maxDeviceName characters; empty gives the default name.
func checkDeviceName(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return importedDeviceName, nil
	}
	if !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return "", errors.New("must be printable text on one line")
	}
	if n := utf8.RuneCountInString(s); n > maxDeviceName {
		return "", fmt.Errorf("at most %d characters, got %d", maxDeviceName, n)
	}
	return s, nil
}

// importItem is what the import writes for one planned row.
func importItem(sealer *datakey.Sealer, p importPlan) (storage.ImportedIdentity, error) {
	item := storage.ImportedIdentity{Identity: p.identity}
	if p.hash != "" {
		item.Credential = &storage.Credential{IdentityID: p.identity.ID, PasswordHash: p.hash, UpdatedAt: p.identity.CreatedAt}
	}
	if p.seed != nil {
		d, err := newTOTPDevice(sealer, p.identity.ID, p.devName, p.seed, p.identity.CreatedAt)
		if err != nil {
			return item, err
		}
		item.Devices = []storage.Device{d}
	}
	return item, nil
}

// createTOTPDevice stores an active TOTP device holding seed, sealed to
// the identity and the device as the login's OTP check expects.
func createTOTPDevice(ctx context.Context, st storage.Devices, sealer *datakey.Sealer, identityID, name string, seed []byte, now time.Time) (storage.Device, error) {
	d, err := newTOTPDevice(sealer, identityID, name, seed, now)
	if err != nil {
		return storage.Device{}, err
	}
	if err := st.CreateDevice(ctx, d); err != nil {
		return storage.Device{}, fmt.Errorf("creating the TOTP device: %w", err)
	}
	return d, nil
}

// newTOTPDevice is the active TOTP device holding seed, sealed, not yet
// stored.
func newTOTPDevice(sealer *datakey.Sealer, identityID, name string, seed []byte, now time.Time) (storage.Device, error) {
	if sealer == nil {
		return storage.Device{}, errors.New("security.data_key is not set: a TOTP seed cannot be stored")
	}
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return storage.Device{}, fmt.Errorf("device ID: %w", err)
	}
	id := hex.EncodeToString(raw[:])
	sealed, err := sealer.Seal(seed, push.SeedAD(identityID, id))
	if err != nil {
		return storage.Device{}, fmt.Errorf("sealing the TOTP seed: %w", err)
	}
	return storage.Device{ID: id, IdentityID: identityID, Name: name, Kind: storage.DeviceTOTP, Status: storage.DeviceActive,
		Secret: sealed, KeyVersion: int(sealer.CurrentKeyID()), CreatedAt: now, UpdatedAt: now}, nil
}

var errNoDataKey = errors.New("security.data_key is not set")

// dataSealer is the sealer the server uses: in demo mode the key comes
// from <data_dir>/keys/data.key, as at serve start-up (created there if
// the server never ran).
func (a *admin) dataSealer() (*datakey.Sealer, error) {
	if err := a.cfg.EnsureDemoKeys(); err != nil {
		return nil, err
	}
	if len(a.cfg.Security.DataKey) == 0 {
		return nil, errNoDataKey
	}
	return app.DataSealer(a.cfg)
}
