package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/app"
	"github.com/spid-idp/spid-idp/idp/otp"
	"github.com/spid-idp/spid-idp/idp/password"
	"github.com/spid-idp/spid-idp/idp/push"
	"github.com/spid-idp/spid-idp/keys/datakey"
	"github.com/spid-idp/spid-idp/opfactor"
	"github.com/spid-idp/spid-idp/storage"
)

// legacySeed is an 80-bit seed as authenticator apps of other providers
// show it: below what this IdP generates, accepted only for migration.
const legacySeed = "JBSWY3DPEHPK3PXP"

var (
	keyA = bytes.Repeat([]byte{'A'}, 32)
	keyB = bytes.Repeat([]byte{'B'}, 32)
)

// setEnv replaces (or adds) one variable of the command environment.
func (d *demoEnv) setEnv(name, value string) {
	out := d.environ[:0:0]
	for _, kv := range d.environ {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	if value != "" {
		out = append(out, name+"="+value)
	}
	d.environ = out
}

func b64(k []byte) string { return base64.StdEncoding.EncodeToString(k) }

func (d *demoEnv) devices(username string) []storage.Device {
	d.t.Helper()
	var devs []storage.Device
	d.withStore(func(st storage.Store) {
		id, err := st.GetIdentityByUsername(context.Background(), username)
		if err != nil {
			d.t.Fatalf("identity %s: %v", username, err)
		}
		if devs, err = st.ListDevices(context.Background(), id.ID); err != nil {
			d.t.Fatal(err)
		}
	})
	return devs
}

// wantCodeAccepted opens the device's seed with a sealer holding only key
// and checks that the login's OTP check accepts the current code.
func (d *demoEnv) wantCodeAccepted(dev storage.Device, key []byte, wantSeed []byte) {
	d.t.Helper()
	s, err := datakey.New(key)
	if err != nil {
		d.t.Fatal(err)
	}
	seed, current, err := s.Open(dev.Secret, push.SeedAD(dev.IdentityID, dev.ID))
	if err != nil || !current {
		d.t.Fatalf("device %s does not open with the key alone: current=%v %v", dev.ID, current, err)
	}
	if wantSeed != nil && !bytes.Equal(seed, wantSeed) {
		d.t.Fatalf("seed %x, want %x", seed, wantSeed)
	}
	now := time.Now()
	d.withStore(func(st storage.Store) {
		ok, err := otp.Accept(context.Background(), st, dev.ID, seed, otp.Code(seed, now), now)
		if err != nil || !ok {
			d.t.Fatalf("otp.Accept = %v, %v", ok, err)
		}
	})
}

func legacySeedBytes(t *testing.T) []byte {
	t.Helper()
	seed, err := otp.DecodeImportedSeed(legacySeed)
	if err != nil {
		t.Fatal(err)
	}
	return seed
}

func TestUserAddTOTPSecret(t *testing.T) {
	d := newDemoEnv(t)
	d.setEnv("SPID_IDP_SECURITY_DATA_KEY", b64(keyA))

	// Refused before anything is written.
	for _, tt := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--totp-secret", "JBSWY3DP"}, "too short"},
		{[]string{"--totp-secret", "not base32!"}, "not valid base32"},
		{[]string{"--totp-device-name", "Phone"}, "needs --totp-secret"},
		{[]string{"--totp-secret", legacySeed, "--totp-device-name", "bad\nname"}, "printable"},
	} {
		r := d.runStdin(testPassword+"\n", addArgs("mario", testCF, append(tt.args, "--password-stdin")...)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tt.msg) {
			t.Errorf("%v: exit %d, stderr %q; want usage error about %q", tt.args, r.code, r.stderr, tt.msg)
		}
	}
	d.withStore(func(st storage.Store) {
		if _, err := st.GetIdentityByUsername(context.Background(), "mario"); err == nil {
			t.Fatal("a refused user add created the identity")
		}
	})

	r := d.runStdin(testPassword+"\n", addArgs("mario", testCF, "--password-stdin",
		"--totp-secret", strings.ToLower(legacySeed), "--totp-device-name", "Telefono di Mario")...)
	if r.code != exitOK {
		t.Fatalf("user add: %d %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "active TOTP device") || strings.Contains(r.stdout, legacySeed) {
		t.Errorf("stdout %q: want the device, never the seed", r.stdout)
	}
	devs := d.devices("mario")
	if len(devs) != 1 {
		t.Fatalf("%d devices, want 1", len(devs))
	}
	dev := devs[0]
	if dev.Status != storage.DeviceActive || dev.Kind != storage.DeviceTOTP || dev.Name != "Telefono di Mario" ||
		dev.KeyVersion != int(datakey.KeyID(keyA)) || bytes.Contains(dev.Secret, legacySeedBytes(t)) {
		t.Fatalf("device %+v", dev)
	}
	d.wantCodeAccepted(dev, keyA, legacySeedBytes(t))
	ev := d.wantAudit("user.add", dev.IdentityID, "success")
	if ev.Details["app_device"] != dev.ID {
		t.Errorf("audit details %v, want the device", ev.Details)
	}
	if strings.Contains(strings.Join(mapValues(ev.Details), " "), legacySeed) {
		t.Error("the seed is in the audit record")
	}
}

// In demo mode the commands seal with the key the server generates and
// reads (<data_dir>/keys/data.key), not with none.
func TestUserAddTOTPSecretDemoKey(t *testing.T) {
	d := newDemoEnv(t)
	d.runStdin(testPassword+"\n", addArgs("mario", testCF, "--password-stdin", "--totp-secret", legacySeed)...)
	devs := d.devices("mario")
	if len(devs) != 1 {
		t.Fatalf("%d devices", len(devs))
	}
	cfg := d.config()
	if err := cfg.EnsureDemoKeys(); err != nil {
		t.Fatal(err)
	}
	d.wantCodeAccepted(devs[0], cfg.Security.DataKey, legacySeedBytes(t))
	if r := d.mustRun("keys", "rotate-data-key"); !strings.Contains(r.stdout, "devices 1: re-sealed 0") {
		t.Errorf("rotation with nothing to do: %s", r.stdout)
	}
}

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func TestRotateDataKey(t *testing.T) {
	d := newDemoEnv(t)
	d.setEnv("SPID_IDP_SECURITY_DATA_KEY", b64(keyA))
	d.runStdin(testPassword+"\n", addArgs("mario", testCF, "--password-stdin", "--totp-secret", legacySeed)...)
	if len(d.devices("mario")) != 1 {
		t.Fatal("user add --totp-secret made no device")
	}
	// A push device too, so the public key is re-sealed with its own AD.
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pushSeed := bytes.Repeat([]byte{9}, 20)
	d.withStore(func(st storage.Store) {
		s, _ := datakey.New(keyA)
		id, err := st.GetIdentityByUsername(context.Background(), "mario")
		if err != nil {
			t.Fatal(err)
		}
		sec, _ := s.Seal(pushSeed, push.SeedAD(id.ID, "push-1"))
		pk, _ := s.Seal(der, push.PublicKeyAD(id.ID, "push-1"))
		now := time.Now().UTC()
		if err := st.CreateDevice(context.Background(), storage.Device{ID: "push-1", IdentityID: id.ID, Name: "App",
			Kind: storage.DevicePush, Status: storage.DeviceActive, Secret: sec, PublicKey: pk, LastStep: 7,
			KeyVersion: int(s.CurrentKeyID()), CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
	})

	// The new key without the old one: nothing opens, nothing changes.
	d.setEnv("SPID_IDP_SECURITY_DATA_KEY", b64(keyB))
	before := d.devices("mario")
	r := d.run("keys", "rotate-data-key")
	if r.code != exitFailure || !strings.Contains(r.stdout, "failed 2") || !strings.Contains(r.stderr, "unknown key") {
		t.Fatalf("rotation without the old key: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	d.wantAudit("keys.rotate_data_key", "", "failure")
	if after := d.devices("mario"); !sameDevices(before, after) {
		t.Fatal("a failed rotation changed rows")
	}

	// The same key twice is a configuration error.
	d.setEnv("SPID_IDP_SECURITY_PREVIOUS_DATA_KEY", b64(keyB))
	if r := d.run("keys", "rotate-data-key"); r.code != exitUsage || !strings.Contains(r.stderr, "security.previous_data_key") {
		t.Fatalf("previous = current: exit %d %s", r.code, r.stderr)
	}

	d.setEnv("SPID_IDP_SECURITY_PREVIOUS_DATA_KEY", b64(keyA))
	r = d.mustRun("keys", "rotate-data-key")
	if !strings.Contains(r.stdout, "devices 2: re-sealed 2") || !strings.Contains(r.stdout, "failed 0") {
		t.Fatalf("first run: %s", r.stdout)
	}
	ev := d.wantAudit("keys.rotate_data_key", "", "success")
	if ev.Details["resealed"] != "2" || ev.Details["sealed_under"] == "" || ev.Details["previously_under"] == "" {
		t.Errorf("audit details %v", ev.Details)
	}
	rotated := d.devices("mario")
	for _, dev := range rotated {
		if dev.KeyVersion != int(datakey.KeyID(keyB)) {
			t.Errorf("device %s KeyVersion %d, want %d", dev.ID, dev.KeyVersion, datakey.KeyID(keyB))
		}
		if dev.ID == "push-1" {
			if dev.LastStep != 7 || dev.Status != storage.DeviceActive {
				t.Errorf("rotation changed other fields: %+v", dev)
			}
			s, _ := datakey.New(keyB)
			got, cur, err := s.Open(dev.PublicKey, push.PublicKeyAD(dev.IdentityID, dev.ID))
			if err != nil || !cur || !bytes.Equal(got, der) {
				t.Errorf("public key after rotation: %v", err)
			}
			d.wantCodeAccepted(dev, keyB, pushSeed)
		} else {
			d.wantCodeAccepted(dev, keyB, legacySeedBytes(t))
		}
	}

	// Idempotent: a second run re-seals nothing and leaves the rows alone.
	rotated = d.devices("mario")
	r = d.mustRun("keys", "rotate-data-key")
	if !strings.Contains(r.stdout, "re-sealed 0") || !strings.Contains(r.stdout, " 2, failed 0") {
		t.Fatalf("second run: %s", r.stdout)
	}
	if !sameDevices(rotated, d.devices("mario")) {
		t.Fatal("the second run changed rows")
	}

	// The old key can go: the app still opens everything with the new one.
	d.setEnv("SPID_IDP_SECURITY_PREVIOUS_DATA_KEY", "")
	s, err := app.DataSealer(d.config())
	if err != nil || s.CurrentKeyID() != datakey.KeyID(keyB) {
		t.Fatalf("DataSealer: %v", err)
	}
}

func sameDevices(a, b []storage.Device) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i].Secret, b[i].Secret) || !bytes.Equal(a[i].PublicKey, b[i].PublicKey) ||
			a[i].KeyVersion != b[i].KeyVersion || !a[i].UpdatedAt.Equal(b[i].UpdatedAt) {
			return false
		}
	}
	return true
}

func TestDataSealerOpensPreviousKey(t *testing.T) {
	d := newDemoEnv(t)
	d.setEnv("SPID_IDP_SECURITY_DATA_KEY", b64(keyB))
	d.setEnv("SPID_IDP_SECURITY_PREVIOUS_DATA_KEY", b64(keyA))
	s, err := app.DataSealer(d.config())
	if err != nil {
		t.Fatal(err)
	}
	old, _ := datakey.New(keyA)
	sealed, _ := old.Seal([]byte("evidence"), []byte("ad"))
	got, current, err := s.Open(sealed, []byte("ad"))
	if err != nil || current || string(got) != "evidence" {
		t.Fatalf("Open = %q current=%v %v", got, current, err)
	}
}

// importHash is an argon2id hash as a previous system would hand it over.
func importHash(t *testing.T, pw string) string {
	t.Helper()
	h, err := password.Hash(pw, password.Params{MemoryKiB: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func writeJSONRows(t *testing.T, rows []map[string]any) string {
	t.Helper()
	b, err := json.Marshal(rows)
	if err != nil {
		t.Fatal(err)
	}
	return writeTemp(t, "identities.json", b)
}

func person(name, family, cf string) map[string]string {
	return map[string]string{"name": name, "familyName": family, "fiscalNumber": cf, "email": strings.ToLower(name) + "@example.org"}
}

func TestUserImportJSON(t *testing.T) {
	d := newDemoEnv(t)
	d.setEnv("SPID_IDP_SECURITY_DATA_KEY", b64(keyA))
	cf2, cf3 := withCheck("VRDLGU75B12F205"), withCheck("BNCNNA90C41L219")
	file := writeJSONRows(t, []map[string]any{
		{"username": "mario", "attributes": person("Mario", "Rossi", testCF), "password_hash": importHash(t, testPassword),
			"totp_secret": legacySeed, "totp_device_name": "Vecchia app"},
		{"username": "luigi", "type": 3, "attributes": person("Luigi", "Verdi", cf2)},
		{"username": "anna", "attributes": map[string]string{"name": "Anna", "familyName": "Bianchi", "fiscalNumber": cf3, "spidCode": "OLDP0123456789"}},
	})
	count := func() int {
		var n int
		d.withStore(func(st storage.Store) {
			ids, err := st.ListIdentities(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			n = len(ids)
		})
		return n
	}
	start := count()

	r := d.mustRun("user", "import", "--file", file, "--dry-run")
	if !strings.Contains(r.stdout, "3 row(s) would be imported") || count() != start {
		t.Fatalf("dry run: %s (identities %d -> %d)", r.stdout, start, count())
	}

	r = d.mustRun("user", "import", "--file", file)
	if !strings.Contains(r.stdout, "3 identit(ies) imported") || !strings.Contains(r.stdout, "2 identit(ies) have no password") {
		t.Fatalf("import: %s", r.stdout)
	}
	mario, c := d.identity("mario")
	if mario.Status != storage.IdentityActive || mario.Attributes["spidCode"] == "" || mario.Attributes["name"] != "Mario" {
		t.Errorf("mario: %+v", mario)
	}
	if ok, err := password.Verify(c.PasswordHash, testPassword); !ok || err != nil {
		t.Errorf("imported hash does not verify: %v", err)
	}
	devs := d.devices("mario")
	if len(devs) != 1 || devs[0].Name != "Vecchia app" {
		t.Fatalf("mario's devices: %+v", devs)
	}
	d.wantCodeAccepted(devs[0], keyA, legacySeedBytes(t))

	d.withStore(func(st storage.Store) {
		luigi, err := st.GetIdentityByUsername(context.Background(), "luigi")
		if err != nil || luigi.Type != storage.IdentityProfessional {
			t.Fatalf("luigi: %+v %v", luigi, err)
		}
		if _, err := st.GetCredential(context.Background(), luigi.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("luigi has a credential (%v); the file gave no hash", err)
		}
		anna, err := st.GetIdentityByUsername(context.Background(), "anna")
		if err != nil || anna.Attributes["spidCode"] != "OLDP0123456789" {
			t.Errorf("anna keeps her spidCode: %+v %v", anna, err)
		}
	})
	ev := d.wantAudit("user.import", mustID(d, "anna"), "success")
	if ev.Details["credential_source"] != "none" || ev.Details["row"] != "3" {
		t.Errorf("audit details %v", ev.Details)
	}
	// Without a password the identity gets one from an operator, then logs in.
	pw := writeTemp(t, "pw", []byte(testPassword+"\n"))
	d.mustRun("user", "passwd", "--password-file", pw, "luigi")

	// Importing the same file again: every row collides with what exists.
	r = d.run("user", "import", "--file", file)
	if r.code != exitFailure || strings.Count(r.stderr, "already used by existing identity") != 3 {
		t.Fatalf("re-import: %d\n%s", r.code, r.stderr)
	}
}

func mustID(d *demoEnv, username string) string {
	d.t.Helper()
	var id string
	d.withStore(func(st storage.Store) {
		i, err := st.GetIdentityByUsername(context.Background(), username)
		if err != nil {
			d.t.Fatal(err)
		}
		id = i.ID
	})
	return id
}

func TestUserImportInvalidRows(t *testing.T) {
	d := newDemoEnv(t)
	d.setEnv("SPID_IDP_SECURITY_DATA_KEY", b64(keyA))
	cf2 := withCheck("VRDLGU75B12F205")
	file := writeJSONRows(t, []map[string]any{
		{"username": "mario", "attributes": person("Mario", "Rossi", testCF)},
		{"username": "x", "type": 9, "attributes": map[string]string{"name": "A", "colour": "blue"}, "password_hash": "$2y$10$abc",
			"totp_secret": "JBSWY3DP"},
		{"username": "MARIO", "attributes": person("Mario", "Rossi", testCF), "totp_device_name": "Phone"},
		{"username": "luigi", "attributes": person("Luigi", "Verdi", cf2), "totp_secret": legacySeed},
	})
	r := d.run("user", "import", "--file", file)
	if r.code != exitFailure {
		t.Fatalf("exit %d, want failure\n%s", r.code, r.stderr)
	}
	for _, want := range []string{
		"row 2 (x):", "username: 3 to 64", "type: must be 1 to 4", "colour: not a SPID attribute", "password_hash: want an argon2id hash",
		"totp_secret: seed of 40 bits is too short",
		"row 3 (MARIO):", "username: already used by row 1", "already holds an identity of type 1", "totp_device_name: given without totp_secret",
		"2 of 4 row(s) invalid; nothing imported",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "row 1 (") || strings.Contains(r.stderr, "row 4 (") {
		t.Errorf("row 1 reported invalid:\n%s", r.stderr)
	}
	d.withStore(func(st storage.Store) {
		for _, u := range []string{"mario", "luigi"} {
			if _, err := st.GetIdentityByUsername(context.Background(), u); err == nil {
				t.Errorf("%s imported although the file has invalid rows", u)
			}
		}
	})
	d.wantAudit("user.import", "", "failure")

	r = d.mustRun("user", "import", "--file", file, "--skip-invalid")
	if !strings.Contains(r.stdout, "2 identit(ies) imported, 2 invalid row(s) skipped") {
		t.Fatalf("skip-invalid: %s", r.stdout)
	}
	mustID(d, "mario")
	if len(d.devices("luigi")) != 1 {
		t.Error("luigi's TOTP device missing")
	}

	// File-level errors are usage errors naming the problem.
	for _, tt := range []struct{ name, body, msg string }{
		{"x.txt", "[]", "want a .json or .csv file"},
		{"x.json", "{}", "not a JSON array"},
		{"x.json", "[]", "no identities"},
		{"x.json", `[{"username":"a","pasword_hash":"x"}]`, `row 1: json: unknown field "pasword_hash"`},
		{"x.csv", "username,colour\na,b\n", `column "colour" is neither`},
		{"x.csv", "name,familyName\nA,B\n", "no username column"},
	} {
		r := d.run("user", "import", "--file", writeTemp(t, tt.name, []byte(tt.body)))
		if r.code != exitUsage || !strings.Contains(r.stderr, tt.msg) {
			t.Errorf("%s %q: exit %d %q, want %q", tt.name, tt.body, r.code, r.stderr, tt.msg)
		}
	}
}

func TestUserImportCSV(t *testing.T) {
	d := newDemoEnv(t)
	d.setEnv("SPID_IDP_SECURITY_DATA_KEY", b64(keyA))
	cf2 := withCheck("VRDLGU75B12F205")
	body := "\uFEFFusername,type,name,familyName,fiscalNumber,email,password_hash,totp_secret\n" +
		"mario,1,Mario,Rossi," + testCF + ",mario@example.org,\"" + importHash(t, testPassword) + "\"," + legacySeed + "\n" +
		"luigi,,Luigi,Verdi," + cf2 + ",,,\n"
	file := writeTemp(t, "identities.csv", []byte(body))
	r := d.mustRun("user", "import", "--file", file)
	if !strings.Contains(r.stdout, "2 identit(ies) imported") {
		t.Fatalf("csv import: %s", r.stdout)
	}
	_, c := d.identity("mario")
	if ok, _ := password.Verify(c.PasswordHash, testPassword); !ok {
		t.Error("imported hash does not verify")
	}
	devs := d.devices("mario")
	if len(devs) != 1 {
		t.Fatalf("devices %+v", devs)
	}
	d.wantCodeAccepted(devs[0], keyA, legacySeedBytes(t))

	bad := writeTemp(t, "bad.csv", []byte("username,type,name,familyName,fiscalNumber\nok.user,1,A,B,"+withCheck("BNCNNA90C41L219")+"\nzz,one,A,B,RSSMRA80A01H501X\n"))
	r = d.run("user", "import", "--file", bad)
	if r.code != exitFailure || !strings.Contains(r.stderr, "row 2 (zz):") || !strings.Contains(r.stderr, "type: must be 1 to 4") ||
		!strings.Contains(r.stderr, "fiscalNumber:") {
		t.Fatalf("bad csv: %d\n%s", r.code, r.stderr)
	}
}

// FuzzImportParse: any file content gives rows or an error, never a panic,
// and planning any parsed rows accounts for every row exactly once.
func FuzzImportParse(f *testing.F) {
	f.Add([]byte(`[{"username":"mario","type":1,"attributes":{"name":"Mario"},"totp_secret":"JBSWY3DPEHPK3PXP"}]`), false)
	f.Add([]byte("username,type,name,familyName,fiscalNumber,totp_secret\nmario,1,Mario,Rossi,"+testCF+",JBSWY3DPEHPK3PXP\n"), true)
	f.Add([]byte("\uFEFFusername,password_hash\n\"a,b\",\"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA\"\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, isCSV bool) {
		parse := parseImportJSON
		if isCSV {
			parse = parseImportCSV
		}
		rows, err := parse(data)
		if err != nil {
			return
		}
		plans, bad := planImport(rows, nil, "TEST", true, time.Now())
		if len(plans)+len(bad) != len(rows) {
			t.Fatalf("%d rows gave %d plans and %d problems", len(rows), len(plans), len(bad))
		}
	})
}

// Operators' second-factor secrets move to the new key too (S095: still
// bound to their operator and factor), or the operators would be locked
// out once the old key is removed.
func TestRotateDataKeyOperatorFactors(t *testing.T) {
	d := newDemoEnv(t)
	d.setEnv("SPID_IDP_SECURITY_DATA_KEY", b64(keyA))
	seed := bytes.Repeat([]byte{5}, 20)
	d.withStore(func(st storage.Store) {
		s, _ := datakey.New(keyA)
		sealed, _ := s.Seal(seed, opfactor.AD("op-1", "f-1"))
		now := time.Now().UTC()
		if err := st.CreateOperator(context.Background(), storage.Operator{ID: "op-1", Username: "vera", Name: "Vera", Roles: []string{"verifier"},
			PasswordHash: "x", Status: storage.OperatorActive, CreatedAt: now, UpdatedAt: now,
			SecondFactor: storage.OperatorFactors{Factors: []storage.OperatorFactor{{ID: "f-1", Kind: storage.FactorTOTP, Secret: sealed,
				KeyVersion: int64(s.CurrentKeyID()), LastStep: 3, CreatedAt: now}}}}); err != nil {
			t.Fatal(err)
		}
	})
	d.setEnv("SPID_IDP_SECURITY_DATA_KEY", b64(keyB))
	d.setEnv("SPID_IDP_SECURITY_PREVIOUS_DATA_KEY", b64(keyA))
	r := d.mustRun("keys", "rotate-data-key")
	if !strings.Contains(r.stdout, "operator factors 1: re-sealed 1") {
		t.Fatalf("rotation: %s", r.stdout)
	}
	if ev := d.wantAudit("keys.rotate_data_key", "", "success"); ev.Details["operator_factors_resealed"] != "1" {
		t.Errorf("audit %v", ev.Details)
	}
	f := d.operator("vera").SecondFactor.Factors[0]
	onlyB, _ := datakey.New(keyB)
	got, _, err := onlyB.Open(f.Secret, opfactor.AD("op-1", "f-1"))
	if err != nil || !bytes.Equal(got, seed) || f.KeyVersion != int64(datakey.KeyID(keyB)) || f.LastStep != 3 {
		t.Fatalf("after rotation: %v %+v", err, f)
	}
	if _, _, err := onlyB.Open(f.Secret, opfactor.AD("op-2", "f-1")); err == nil {
		t.Error("the re-sealed seed opens for another operator")
	}
	if r := d.mustRun("keys", "rotate-data-key"); !strings.Contains(r.stdout, "operator factors 1: re-sealed 0") {
		t.Errorf("second run: %s", r.stdout)
	}
}
