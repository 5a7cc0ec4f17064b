package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/storage"
)

// RunStore runs the storage.Store conformance suite. newStore must return an
// empty store for the subtest it is given and close it in t.Cleanup.
func RunStore(t *testing.T, newStore func(t *testing.T) storage.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s storage.Store)
	}{
		{"IdentityCRUD", storeTestIdentityCRUD},
		{"IdentityErrors", storeTestIdentityErrors},
		{"IdentityAttributes", storeTestIdentityAttributes},
		{"OddTextLookups", storeTestOddTextLookups},
		{"CredentialCRUD", storeTestCredentialCRUD},
		{"CredentialErrors", storeTestCredentialErrors},
		{"PasswordHistory", storeTestPasswordHistory},
		{"ServiceProviderCRUD", storeTestServiceProviderCRUD},
		{"ServiceProviderErrors", storeTestServiceProviderErrors},
		{"ServiceProviderSync", storeTestServiceProviderSync},
		{"UpdateFnErrorAborts", storeTestUpdateFnErrorAborts},
		{"UpdateKeepsKey", storeTestUpdateKeepsKey},
		{"ConcurrentUpdateCredential", storeTestConcurrentUpdateCredential},
		{"DeviceCRUD", storeTestDeviceCRUD},
		{"DeviceErrors", storeTestDeviceErrors},
		{"DeviceOddText", storeTestDeviceOddText},
		{"DeviceBytesExact", storeTestDeviceBytesExact},
		{"DeviceCascade", storeTestDeviceCascade},
		{"DeviceUpdateFnErrorAborts", storeTestDeviceUpdateFnErrorAborts},
		{"DeviceUpdateKeepsOwner", storeTestDeviceUpdateKeepsOwner},
		{"DeviceConcurrentFailedAttempts", storeTestDeviceConcurrentFailedAttempts},
		{"DeviceLastStepMonotonic", storeTestDeviceLastStepMonotonic},
		{"AuditChain", storeTestAuditChain},
		{"AuditConcurrentAppend", storeTestAuditConcurrentAppend},
		{"AuditPaging", storeTestAuditPaging},
		{"AuditOddText", storeTestAuditOddText},
		{"EnrolmentCRUD", storeTestEnrolmentCRUD},
		{"EnrolmentErrors", storeTestEnrolmentErrors},
		{"EnrolmentConcurrentTransition", storeTestEnrolmentConcurrentTransition},
		{"OperatorCRUD", storeTestOperatorCRUD},
		{"OperatorErrors", storeTestOperatorErrors},
		{"TokenSingleUse", storeTestTokenSingleUse},
		{"TokenConcurrentConsume", storeTestTokenConcurrentConsume},
		{"TokenExpiry", storeTestTokenExpiry},
		{"TimesUTC", storeTestTimesUTC},
		{"IdentitySessionEpoch", storeTestIdentitySessionEpoch},
		{"Ping", storeTestPing},
		{"SingleUseMarks", storeTestSingleUse},
		{"MessageQueue", storeTestMessageQueue},
		{"Outbox", storeTestOutbox},
	}
	tests = append(tests, clusterTests...)
	tests = append(tests, registerTests...)
	tests = append(tests, oidcTests...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newStore(t)) })
	}
}

// storeRome is a zone east of UTC with daylight saving, so a backend that
// stores wall-clock time instead of the instant is caught.
func storeRome() *time.Location {
	loc, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		return time.FixedZone("CET", 3600)
	}
	return loc
}

// storeT0 has nanoseconds, which backends may drop below microseconds.
var storeT0 = time.Date(2026, 3, 29, 3, 30, 15, 123456789, storeRome())

func storeIdentity(n int) storage.Identity {
	return storage.Identity{
		ID:       fmt.Sprintf("id-%03d", n),
		Username: fmt.Sprintf("user%03d@example.it", n),
		Type:     storage.IdentityCitizen,
		Status:   storage.IdentityActive,
		Attributes: map[string]string{
			"spidCode":     fmt.Sprintf("SPID-%010d", n),
			"name":         "Mario",
			"familyName":   "Rossi",
			"fiscalNumber": "TINIT-RSSMRA80A01H501U",
		},
		CreatedAt: storeT0,
		UpdatedAt: storeT0.Add(time.Minute),
	}
}

func storeSP(n int) storage.ServiceProvider {
	return storage.ServiceProvider{
		EntityID:    fmt.Sprintf("https://sp%d.example.it/metadata", n),
		MetadataXML: []byte(fmt.Sprintf("<?xml version=\"1.0\"?>\r\n<md:EntityDescriptor entityID=\"sp%d\">\n\t<x/> </md:EntityDescriptor>\n", n)),
		Status:      storage.SPActive,
		Source:      "cli",
		CreatedAt:   storeT0,
		UpdatedAt:   storeT0,
	}
}

// storeSameTime compares instants at the microsecond precision every backend
// keeps, and requires them to come back in UTC.
func storeSameTime(t *testing.T, field string, got, want time.Time) {
	t.Helper()
	if want.IsZero() {
		if !got.IsZero() {
			t.Errorf("%s = %v, want the zero time", field, got)
		}
		return
	}
	if got.Location() != time.UTC {
		t.Errorf("%s location = %v, want UTC", field, got.Location())
	}
	if w := want.Truncate(time.Microsecond); !got.Equal(w) {
		t.Errorf("%s = %v, want %v", field, got, w.UTC())
	}
}

// storeSameMap treats nil and empty as equal: JSON columns cannot tell them apart.
func storeSameMap(t *testing.T, field string, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) || !maps.Equal(got, want) {
		t.Errorf("%s = %v, want %v", field, got, want)
	}
}

func storeCheckIdentity(t *testing.T, got, want storage.Identity) {
	t.Helper()
	if got.ID != want.ID || got.Username != want.Username || got.Type != want.Type || got.Status != want.Status || got.SessionEpoch != want.SessionEpoch {
		t.Errorf("identity = {%q %q %d %q epoch %d}, want {%q %q %d %q epoch %d}", got.ID, got.Username, got.Type, got.Status, got.SessionEpoch,
			want.ID, want.Username, want.Type, want.Status, want.SessionEpoch)
	}
	storeSameMap(t, "Attributes", got.Attributes, want.Attributes)
	storeSameTime(t, "CreatedAt", got.CreatedAt, want.CreatedAt)
	storeSameTime(t, "UpdatedAt", got.UpdatedAt, want.UpdatedAt)
}

// storeTestPasswordHistory: the date the password was set and the earlier
// hashes with their dates survive a round trip, in order, through create
// and read-modify-write, and a history can be emptied again.
func storeTestPasswordHistory(t *testing.T, s storage.Store) {
	ctx := t.Context()
	id := storeIdentity(1)
	storeMust(t, "CreateIdentity", s.CreateIdentity(ctx, id))
	c := storage.Credential{IdentityID: id.ID, PasswordHash: "$argon2id$v=19$m=65536,t=2,p=4$YWFhYWFhYWE$Y3VycmVudA",
		PasswordSetAt: storeT0, UpdatedAt: storeT0}
	storeMust(t, "CreateCredential", s.CreateCredential(ctx, c))
	got, err := s.GetCredential(ctx, id.ID)
	storeMust(t, "GetCredential", err)
	if got.PasswordHistory != nil {
		t.Errorf("new credential has history %v, want none", got.PasswordHistory)
	}
	storeCheckCredential(t, got, c)

	// Rome times with nanoseconds: stored as UTC instants to the microsecond.
	older := time.Date(2024, 3, 31, 2, 30, 0, 123456789, storeRome())
	later := storeT0.Add(24 * time.Hour)
	hist := []storage.PasswordUse{
		{Hash: c.PasswordHash, SetAt: storeT0, RetiredAt: later},
		{Hash: "$argon2id$v=19$m=65536,t=2,p=4$YmJiYmJiYmI$b2xkZXI", SetAt: older, RetiredAt: storeT0},
	}
	storeMust(t, "UpdateCredential", s.UpdateCredential(ctx, id.ID, func(got storage.Credential) (storage.Credential, error) {
		got.PasswordHash, got.PasswordSetAt, got.UpdatedAt = "$argon2id$v=19$m=65536,t=2,p=4$Y2NjY2NjY2M$bmV3", later, later
		got.PasswordHistory = append([]storage.PasswordUse(nil), hist...)
		return got, nil
	}))
	want := c
	want.PasswordHash, want.PasswordSetAt, want.UpdatedAt, want.PasswordHistory = "$argon2id$v=19$m=65536,t=2,p=4$Y2NjY2NjY2M$bmV3", later, later, hist
	got, err = s.GetCredential(ctx, id.ID)
	storeMust(t, "GetCredential after update", err)
	storeCheckCredential(t, got, want)
	if got.PasswordHistory[1].SetAt.Location() != time.UTC {
		t.Errorf("history time read back in %v, want UTC", got.PasswordHistory[1].SetAt.Location())
	}

	// An update that does not touch the history keeps it (lockout counters).
	storeMust(t, "UpdateCredential counters", s.UpdateCredential(ctx, id.ID, func(got storage.Credential) (storage.Credential, error) {
		got.FailedAttempts = 2
		return got, nil
	}))
	got, err = s.GetCredential(ctx, id.ID)
	storeMust(t, "GetCredential after counters", err)
	want.FailedAttempts = 2
	storeCheckCredential(t, got, want)

	storeMust(t, "UpdateCredential clear", s.UpdateCredential(ctx, id.ID, func(got storage.Credential) (storage.Credential, error) {
		got.PasswordHistory, got.PasswordSetAt = nil, time.Time{}
		return got, nil
	}))
	got, err = s.GetCredential(ctx, id.ID)
	storeMust(t, "GetCredential after clear", err)
	want.PasswordHistory, want.PasswordSetAt = nil, time.Time{}
	storeCheckCredential(t, got, want)
}

func storeCheckCredential(t *testing.T, got, want storage.Credential) {
	t.Helper()
	if got.IdentityID != want.IdentityID || got.PasswordHash != want.PasswordHash || got.FailedAttempts != want.FailedAttempts ||
		got.FactorFailures != want.FactorFailures {
		t.Errorf("credential = {%q %q %d %d}, want {%q %q %d %d}", got.IdentityID, got.PasswordHash, got.FailedAttempts, got.FactorFailures,
			want.IdentityID, want.PasswordHash, want.FailedAttempts, want.FactorFailures)
	}
	storeSameTime(t, "LastFailureAt", got.LastFailureAt, want.LastFailureAt)
	storeSameTime(t, "LockedUntil", got.LockedUntil, want.LockedUntil)
	storeSameTime(t, "UpdatedAt", got.UpdatedAt, want.UpdatedAt)
	storeSameTime(t, "PasswordSetAt", got.PasswordSetAt, want.PasswordSetAt)
	if len(got.PasswordHistory) != len(want.PasswordHistory) {
		t.Errorf("PasswordHistory has %d entries, want %d", len(got.PasswordHistory), len(want.PasswordHistory))
		return
	}
	for i, g := range got.PasswordHistory {
		w := want.PasswordHistory[i]
		if g.Hash != w.Hash {
			t.Errorf("PasswordHistory[%d].Hash = %q, want %q", i, g.Hash, w.Hash)
		}
		storeSameTime(t, fmt.Sprintf("PasswordHistory[%d].SetAt", i), g.SetAt, w.SetAt)
		storeSameTime(t, fmt.Sprintf("PasswordHistory[%d].RetiredAt", i), g.RetiredAt, w.RetiredAt)
	}
}

func storeCheckSP(t *testing.T, got, want storage.ServiceProvider) {
	t.Helper()
	if got.EntityID != want.EntityID || got.Status != want.Status || got.Source != want.Source {
		t.Errorf("SP = {%q %q %q}, want {%q %q %q}", got.EntityID, got.Status, got.Source,
			want.EntityID, want.Status, want.Source)
	}
	if !bytes.Equal(got.MetadataXML, want.MetadataXML) {
		t.Errorf("MetadataXML not kept verbatim:\n got %q\nwant %q", got.MetadataXML, want.MetadataXML)
	}
	storeSameTime(t, "CreatedAt", got.CreatedAt, want.CreatedAt)
	storeSameTime(t, "UpdatedAt", got.UpdatedAt, want.UpdatedAt)
}

// storeWantErr fails unless err matches target with errors.Is.
func storeWantErr(t *testing.T, op string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error = %v, want %v", op, err, target)
	}
}

func storeMust(t *testing.T, op string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
}

func storeTestIdentityCRUD(t *testing.T, s storage.Store) {
	ctx := t.Context()
	a, b := storeIdentity(1), storeIdentity(2)
	b.Type, b.Status = storage.IdentityProfessional, storage.IdentitySuspended
	storeMust(t, "CreateIdentity a", s.CreateIdentity(ctx, a))
	storeMust(t, "CreateIdentity b", s.CreateIdentity(ctx, b))

	got, err := s.GetIdentity(ctx, a.ID)
	storeMust(t, "GetIdentity", err)
	storeCheckIdentity(t, got, a)
	got, err = s.GetIdentityByUsername(ctx, b.Username)
	storeMust(t, "GetIdentityByUsername", err)
	storeCheckIdentity(t, got, b)

	list, err := s.ListIdentities(ctx)
	storeMust(t, "ListIdentities", err)
	if len(list) != 2 {
		t.Fatalf("ListIdentities returned %d identities, want 2", len(list))
	}
	for _, id := range list {
		want := map[string]storage.Identity{a.ID: a, b.ID: b}[id.ID]
		storeCheckIdentity(t, id, want)
	}

	later := storeT0.Add(time.Hour)
	storeMust(t, "UpdateIdentity", s.UpdateIdentity(ctx, a.ID, func(id storage.Identity) (storage.Identity, error) {
		storeCheckIdentity(t, id, a)
		id.Status = storage.IdentityRevoked
		id.Username = "renamed@example.it"
		id.Attributes["email"] = "mario@example.it"
		id.UpdatedAt = later
		return id, nil
	}))
	want := a
	want.Status, want.Username, want.UpdatedAt = storage.IdentityRevoked, "renamed@example.it", later
	want.Attributes = maps.Clone(a.Attributes)
	want.Attributes["email"] = "mario@example.it"
	got, err = s.GetIdentity(ctx, a.ID)
	storeMust(t, "GetIdentity after update", err)
	storeCheckIdentity(t, got, want)
	if _, err := s.GetIdentityByUsername(ctx, a.Username); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("old username still resolves after rename: err = %v", err)
	}

	storeMust(t, "DeleteIdentity", s.DeleteIdentity(ctx, a.ID))
	_, err = s.GetIdentity(ctx, a.ID)
	storeWantErr(t, "GetIdentity after delete", err, storage.ErrNotFound)
	list, err = s.ListIdentities(ctx)
	storeMust(t, "ListIdentities after delete", err)
	if len(list) != 1 || list[0].ID != b.ID {
		t.Errorf("ListIdentities after delete = %d identities, want only %q", len(list), b.ID)
	}
}

func storeTestIdentityErrors(t *testing.T, s storage.Store) {
	ctx := t.Context()
	a := storeIdentity(1)
	storeMust(t, "CreateIdentity", s.CreateIdentity(ctx, a))
	other := storeIdentity(2)
	storeMust(t, "CreateIdentity other", s.CreateIdentity(ctx, other))

	_, err := s.GetIdentity(ctx, "missing")
	storeWantErr(t, "GetIdentity(missing)", err, storage.ErrNotFound)
	_, err = s.GetIdentityByUsername(ctx, "missing@example.it")
	storeWantErr(t, "GetIdentityByUsername(missing)", err, storage.ErrNotFound)
	storeWantErr(t, "DeleteIdentity(missing)", s.DeleteIdentity(ctx, "missing"), storage.ErrNotFound)
	called := false
	err = s.UpdateIdentity(ctx, "missing", func(id storage.Identity) (storage.Identity, error) {
		called = true
		return id, nil
	})
	storeWantErr(t, "UpdateIdentity(missing)", err, storage.ErrNotFound)
	if called {
		t.Error("UpdateIdentity(missing) called fn")
	}

	dupID := storeIdentity(3)
	dupID.ID = a.ID
	storeWantErr(t, "CreateIdentity(same ID)", s.CreateIdentity(ctx, dupID), storage.ErrAlreadyExists)
	dupName := storeIdentity(3)
	dupName.Username = a.Username
	storeWantErr(t, "CreateIdentity(same username)", s.CreateIdentity(ctx, dupName), storage.ErrAlreadyExists)
	err = s.UpdateIdentity(ctx, other.ID, func(id storage.Identity) (storage.Identity, error) {
		id.Username = a.Username
		return id, nil
	})
	storeWantErr(t, "UpdateIdentity(to a taken username)", err, storage.ErrAlreadyExists)
	got, err := s.GetIdentity(ctx, other.ID)
	storeMust(t, "GetIdentity after refused rename", err)
	storeCheckIdentity(t, got, other)

	empty := storeIdentity(4)
	empty.ID = ""
	if err := s.CreateIdentity(ctx, empty); err == nil {
		t.Error("CreateIdentity with an empty ID succeeded")
	}
	noName := storeIdentity(5)
	noName.Username = ""
	if err := s.CreateIdentity(ctx, noName); err == nil {
		t.Error("CreateIdentity with an empty username succeeded")
	}
	err = s.UpdateIdentity(ctx, other.ID, func(id storage.Identity) (storage.Identity, error) {
		id.Username = ""
		return id, nil
	})
	if err == nil {
		t.Error("UpdateIdentity to an empty username succeeded")
	}
}

func storeTestIdentityAttributes(t *testing.T, s storage.Store) {
	ctx := t.Context()
	cases := []map[string]string{
		nil,
		{},
		{"name": "Nicolò", "familyName": "D'Annunzio-Öztürk 李", "address": "Via Roma 1\n00100 Roma RM"},
		{"email": "", "quote": `"\u0000<&>'`, "mobilePhone": "+393331234567", "expirationDate": "2030-12-31"},
	}
	for i, attrs := range cases {
		id := storeIdentity(i)
		id.Attributes = attrs
		storeMust(t, "CreateIdentity", s.CreateIdentity(ctx, id))
		got, err := s.GetIdentity(ctx, id.ID)
		storeMust(t, "GetIdentity", err)
		storeSameMap(t, fmt.Sprintf("case %d: Attributes", i), got.Attributes, attrs)
	}
}

// storeTestOddTextLookups: a login name is attacker-chosen; NUL or invalid
// UTF-8 in it must read as "no such identity", never as a database failure,
// and no backend stores such text.
func storeTestOddTextLookups(t *testing.T, s storage.Store) {
	ctx := t.Context()
	storeMust(t, "CreateIdentity", s.CreateIdentity(ctx, storeIdentity(1)))
	storeMust(t, "CreateServiceProvider", s.CreateServiceProvider(ctx, storeSP(1)))
	for _, odd := range []string{"user001@example.it\x00", "\xff\xfe", "user\xc3@example.it"} {
		_, err := s.GetIdentityByUsername(ctx, odd)
		storeWantErr(t, fmt.Sprintf("GetIdentityByUsername(%q)", odd), err, storage.ErrNotFound)
		_, err = s.GetIdentity(ctx, odd)
		storeWantErr(t, fmt.Sprintf("GetIdentity(%q)", odd), err, storage.ErrNotFound)
		_, err = s.GetCredential(ctx, odd)
		storeWantErr(t, fmt.Sprintf("GetCredential(%q)", odd), err, storage.ErrNotFound)
		_, err = s.GetServiceProvider(ctx, odd)
		storeWantErr(t, fmt.Sprintf("GetServiceProvider(%q)", odd), err, storage.ErrNotFound)
		storeWantErr(t, fmt.Sprintf("DeleteIdentity(%q)", odd), s.DeleteIdentity(ctx, odd), storage.ErrNotFound)

		bad := storeIdentity(2)
		bad.Username = odd
		if err := s.CreateIdentity(ctx, bad); err == nil {
			t.Errorf("CreateIdentity with username %q succeeded", odd)
		}
		bad = storeIdentity(3)
		bad.Attributes["name"] = odd
		if err := s.CreateIdentity(ctx, bad); err == nil {
			t.Errorf("CreateIdentity with attribute %q succeeded", odd)
		}
	}
}

func storeTestCredentialCRUD(t *testing.T, s storage.Store) {
	ctx := t.Context()
	id := storeIdentity(1)
	storeMust(t, "CreateIdentity", s.CreateIdentity(ctx, id))
	c := storage.Credential{
		IdentityID:   id.ID,
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
		UpdatedAt:    storeT0,
	}
	storeMust(t, "CreateCredential", s.CreateCredential(ctx, c))
	got, err := s.GetCredential(ctx, id.ID)
	storeMust(t, "GetCredential", err)
	storeCheckCredential(t, got, c)

	lock := storeT0.Add(15 * time.Minute)
	storeMust(t, "UpdateCredential", s.UpdateCredential(ctx, id.ID, func(got storage.Credential) (storage.Credential, error) {
		got.FailedAttempts = 5
		got.FactorFailures = 3
		got.LastFailureAt = storeT0
		got.LockedUntil = lock
		return got, nil
	}))
	want := c
	want.FailedAttempts, want.FactorFailures, want.LastFailureAt, want.LockedUntil = 5, 3, storeT0, lock
	got, err = s.GetCredential(ctx, id.ID)
	storeMust(t, "GetCredential after update", err)
	storeCheckCredential(t, got, want)

	// Unlocking sets the times back to zero, which must read back as zero.
	storeMust(t, "UpdateCredential reset", s.UpdateCredential(ctx, id.ID, func(got storage.Credential) (storage.Credential, error) {
		got.FailedAttempts, got.FactorFailures, got.LastFailureAt, got.LockedUntil = 0, 0, time.Time{}, time.Time{}
		return got, nil
	}))
	got, err = s.GetCredential(ctx, id.ID)
	storeMust(t, "GetCredential after reset", err)
	storeCheckCredential(t, got, c)

	// A credential has no life of its own: it goes with its identity.
	storeMust(t, "DeleteIdentity", s.DeleteIdentity(ctx, id.ID))
	_, err = s.GetCredential(ctx, id.ID)
	storeWantErr(t, "GetCredential after DeleteIdentity", err, storage.ErrNotFound)
}

func storeTestCredentialErrors(t *testing.T, s storage.Store) {
	ctx := t.Context()
	id := storeIdentity(1)
	storeMust(t, "CreateIdentity", s.CreateIdentity(ctx, id))
	c := storage.Credential{IdentityID: id.ID, PasswordHash: "$argon2id$x"}
	storeMust(t, "CreateCredential", s.CreateCredential(ctx, c))

	storeWantErr(t, "CreateCredential(again)", s.CreateCredential(ctx, c), storage.ErrAlreadyExists)
	orphan := storage.Credential{IdentityID: "missing", PasswordHash: "$argon2id$x"}
	storeWantErr(t, "CreateCredential(unknown identity)", s.CreateCredential(ctx, orphan), storage.ErrNotFound)
	_, err := s.GetCredential(ctx, "missing")
	storeWantErr(t, "GetCredential(missing)", err, storage.ErrNotFound)
	err = s.UpdateCredential(ctx, "missing", func(c storage.Credential) (storage.Credential, error) { return c, nil })
	storeWantErr(t, "UpdateCredential(missing)", err, storage.ErrNotFound)
}

func storeTestServiceProviderCRUD(t *testing.T, s storage.Store) {
	ctx := t.Context()
	a, b := storeSP(1), storeSP(2)
	b.Source, b.Status = "directory", storage.SPDisabled
	storeMust(t, "CreateServiceProvider a", s.CreateServiceProvider(ctx, a))
	storeMust(t, "CreateServiceProvider b", s.CreateServiceProvider(ctx, b))
	got, err := s.GetServiceProvider(ctx, a.EntityID)
	storeMust(t, "GetServiceProvider", err)
	storeCheckSP(t, got, a)

	list, err := s.ListServiceProviders(ctx)
	storeMust(t, "ListServiceProviders", err)
	if len(list) != 2 {
		t.Fatalf("ListServiceProviders returned %d, want 2", len(list))
	}
	for _, sp := range list {
		storeCheckSP(t, sp, map[string]storage.ServiceProvider{a.EntityID: a, b.EntityID: b}[sp.EntityID])
	}

	newXML := []byte("<EntityDescriptor entityID=\"sp1\"><!-- renewed --></EntityDescriptor>")
	storeMust(t, "UpdateServiceProvider", s.UpdateServiceProvider(ctx, a.EntityID, func(sp storage.ServiceProvider) (storage.ServiceProvider, error) {
		storeCheckSP(t, sp, a)
		sp.MetadataXML = newXML
		sp.Status = storage.SPDisabled
		return sp, nil
	}))
	want := a
	want.MetadataXML, want.Status = newXML, storage.SPDisabled
	got, err = s.GetServiceProvider(ctx, a.EntityID)
	storeMust(t, "GetServiceProvider after update", err)
	storeCheckSP(t, got, want)

	storeMust(t, "DeleteServiceProvider", s.DeleteServiceProvider(ctx, a.EntityID))
	_, err = s.GetServiceProvider(ctx, a.EntityID)
	storeWantErr(t, "GetServiceProvider after delete", err, storage.ErrNotFound)
	list, err = s.ListServiceProviders(ctx)
	storeMust(t, "ListServiceProviders after delete", err)
	if len(list) != 1 || list[0].EntityID != b.EntityID {
		t.Errorf("ListServiceProviders after delete = %d SPs, want only %q", len(list), b.EntityID)
	}
}

func storeTestServiceProviderErrors(t *testing.T, s storage.Store) {
	ctx := t.Context()
	sp := storeSP(1)
	storeMust(t, "CreateServiceProvider", s.CreateServiceProvider(ctx, sp))
	storeWantErr(t, "CreateServiceProvider(again)", s.CreateServiceProvider(ctx, sp), storage.ErrAlreadyExists)
	_, err := s.GetServiceProvider(ctx, "https://missing.example.it")
	storeWantErr(t, "GetServiceProvider(missing)", err, storage.ErrNotFound)
	storeWantErr(t, "DeleteServiceProvider(missing)", s.DeleteServiceProvider(ctx, "https://missing.example.it"), storage.ErrNotFound)
	err = s.UpdateServiceProvider(ctx, "https://missing.example.it", func(sp storage.ServiceProvider) (storage.ServiceProvider, error) {
		return sp, nil
	})
	storeWantErr(t, "UpdateServiceProvider(missing)", err, storage.ErrNotFound)
	list, err := s.ListServiceProviders(ctx)
	storeMust(t, "ListServiceProviders", err)
	if len(list) != 1 {
		t.Errorf("ListServiceProviders = %d SPs, want 1", len(list))
	}
}

// storeTestServiceProviderSync: a sync sees every SP, creates, replaces and
// withdraws in one go, keeps CreatedAt, and writes nothing when fn fails or
// when one row cannot be stored.
func storeTestServiceProviderSync(t *testing.T, s storage.Store) {
	ctx := t.Context()
	a, b := storeSP(1), storeSP(2)
	storeMust(t, "CreateServiceProvider a", s.CreateServiceProvider(ctx, a))
	storeMust(t, "CreateServiceProvider b", s.CreateServiceProvider(ctx, b))
	later := storeT0.Add(time.Hour)
	c := storeSP(3)
	c.Source, c.CreatedAt, c.UpdatedAt = "federation", later, later
	newA := a
	newA.MetadataXML, newA.Source, newA.UpdatedAt = []byte("<renewed/>"), "federation", later
	newA.CreatedAt = later // must be ignored: the row exists
	wb := b
	wb.Status, wb.UpdatedAt = storage.SPWithdrawn, later
	rev0, err := s.ServiceProviderRevision(ctx)
	storeMust(t, "ServiceProviderRevision", err)
	storeMust(t, "SyncServiceProviders", s.SyncServiceProviders(ctx, func(cur []storage.ServiceProvider) ([]storage.ServiceProvider, error) {
		if len(cur) != 2 || cur[0].EntityID != a.EntityID || cur[1].EntityID != b.EntityID {
			t.Errorf("sync saw %d SPs, want a and b in order", len(cur))
		}
		return []storage.ServiceProvider{newA, wb, c}, nil
	}))
	if rev1, err := s.ServiceProviderRevision(ctx); err != nil || rev1 <= rev0 {
		t.Errorf("SP revision %d after a sync that wrote, was %d (%v): other nodes would serve stale SPs", rev1, rev0, err)
	}
	wantA := newA
	wantA.CreatedAt = a.CreatedAt
	for _, want := range []storage.ServiceProvider{wantA, wb, c} {
		got, err := s.GetServiceProvider(ctx, want.EntityID)
		storeMust(t, "GetServiceProvider after sync", err)
		storeCheckSP(t, got, want)
		storeSameTime(t, "UpdatedAt", got.UpdatedAt, want.UpdatedAt)
	}

	// fn's error aborts everything, unchanged.
	d := storeSP(4)
	err = s.SyncServiceProviders(ctx, func([]storage.ServiceProvider) ([]storage.ServiceProvider, error) {
		return []storage.ServiceProvider{d}, storeErrAbort
	})
	if err != storeErrAbort {
		t.Errorf("SyncServiceProviders with failing fn = %v, want the caller's error as is", err)
	}
	// One bad row (an empty entityID) rolls back the good ones before it.
	bad := storeSP(5)
	bad.EntityID = ""
	gone := newA
	gone.Status = storage.SPWithdrawn
	err = s.SyncServiceProviders(ctx, func([]storage.ServiceProvider) ([]storage.ServiceProvider, error) {
		return []storage.ServiceProvider{d, gone, bad}, nil
	})
	if err == nil {
		t.Error("SyncServiceProviders stored an SP with an empty entityID")
	}
	_, err = s.GetServiceProvider(ctx, d.EntityID)
	storeWantErr(t, "GetServiceProvider of a row from an aborted sync", err, storage.ErrNotFound)
	got, _ := s.GetServiceProvider(ctx, a.EntityID)
	if got.Status != storage.SPActive {
		t.Errorf("status of a after an aborted sync = %q, want it unchanged", got.Status)
	}
}

// storeErrAbort is a caller's error that must come back unchanged.
var storeErrAbort = errors.New("conformance: caller aborts the update")

func storeTestUpdateFnErrorAborts(t *testing.T, s storage.Store) {
	ctx := t.Context()
	id, sp := storeIdentity(1), storeSP(1)
	c := storage.Credential{IdentityID: id.ID, PasswordHash: "$argon2id$x", UpdatedAt: storeT0}
	storeMust(t, "CreateIdentity", s.CreateIdentity(ctx, id))
	storeMust(t, "CreateCredential", s.CreateCredential(ctx, c))
	storeMust(t, "CreateServiceProvider", s.CreateServiceProvider(ctx, sp))

	err := s.UpdateIdentity(ctx, id.ID, func(v storage.Identity) (storage.Identity, error) {
		v.Status = storage.IdentityRevoked
		v.Attributes["name"] = "changed"
		return v, storeErrAbort
	})
	if err != storeErrAbort {
		t.Errorf("UpdateIdentity returned %v, want the fn error as is", err)
	}
	err = s.UpdateCredential(ctx, id.ID, func(v storage.Credential) (storage.Credential, error) {
		v.FailedAttempts = 99
		return v, storeErrAbort
	})
	if err != storeErrAbort {
		t.Errorf("UpdateCredential returned %v, want the fn error as is", err)
	}
	err = s.UpdateServiceProvider(ctx, sp.EntityID, func(v storage.ServiceProvider) (storage.ServiceProvider, error) {
		v.Status = storage.SPDisabled
		return v, storeErrAbort
	})
	if err != storeErrAbort {
		t.Errorf("UpdateServiceProvider returned %v, want the fn error as is", err)
	}

	gotID, err := s.GetIdentity(ctx, id.ID)
	storeMust(t, "GetIdentity", err)
	storeCheckIdentity(t, gotID, id)
	gotC, err := s.GetCredential(ctx, id.ID)
	storeMust(t, "GetCredential", err)
	storeCheckCredential(t, gotC, c)
	gotSP, err := s.GetServiceProvider(ctx, sp.EntityID)
	storeMust(t, "GetServiceProvider", err)
	storeCheckSP(t, gotSP, sp)
}

// storeTestUpdateKeepsKey: the key names the record; fn cannot move it.
func storeTestUpdateKeepsKey(t *testing.T, s storage.Store) {
	ctx := t.Context()
	id := storeIdentity(1)
	storeMust(t, "CreateIdentity", s.CreateIdentity(ctx, id))
	err := s.UpdateIdentity(ctx, id.ID, func(v storage.Identity) (storage.Identity, error) {
		v.ID = "another-id"
		v.Status = storage.IdentitySuspended
		return v, nil
	})
	storeMust(t, "UpdateIdentity", err)
	got, err := s.GetIdentity(ctx, id.ID)
	storeMust(t, "GetIdentity", err)
	if got.Status != storage.IdentitySuspended {
		t.Errorf("Status = %q, want %q", got.Status, storage.IdentitySuspended)
	}
	_, err = s.GetIdentity(ctx, "another-id")
	storeWantErr(t, "GetIdentity(another-id)", err, storage.ErrNotFound)
}

// storeTestConcurrentUpdateCredential: concurrent read-modify-writes must not
// lose an increment (a lost failed-login count weakens the lockout).
func storeTestConcurrentUpdateCredential(t *testing.T, s storage.Store) {
	ctx := t.Context()
	id := storeIdentity(1)
	storeMust(t, "CreateIdentity", s.CreateIdentity(ctx, id))
	storeMust(t, "CreateCredential", s.CreateCredential(ctx, storage.Credential{IdentityID: id.ID, PasswordHash: "$argon2id$x"}))
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			errs <- s.UpdateCredential(ctx, id.ID, func(c storage.Credential) (storage.Credential, error) {
				c.FailedAttempts++
				return c, nil
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("UpdateCredential: %v", err)
		}
	}
	c, err := s.GetCredential(ctx, id.ID)
	storeMust(t, "GetCredential", err)
	if c.FailedAttempts != n {
		t.Errorf("FailedAttempts = %d after %d concurrent increments", c.FailedAttempts, n)
	}
}

// storeDevice is a pending TOTP device of identityID whose sealed secret
// holds NUL, 0xff and invalid UTF-8, as ciphertext does.
func storeDevice(n int, identityID string) storage.Device {
	return storage.Device{
		ID:         fmt.Sprintf("dev-%03d", n),
		IdentityID: identityID,
		Name:       fmt.Sprintf("Telefono di Mario %d", n),
		Kind:       storage.DeviceTOTP,
		Status:     storage.DevicePending,
		Secret:     []byte{0x00, 0xff, 0xc3, 0x28, byte(n), 0x00},
		KeyVersion: 1,
		CreatedAt:  storeT0,
		UpdatedAt:  storeT0,
	}
}

func storeCheckDevice(t *testing.T, got, want storage.Device) {
	t.Helper()
	if got.ID != want.ID || got.IdentityID != want.IdentityID || got.Name != want.Name ||
		got.Kind != want.Kind || got.Status != want.Status {
		t.Errorf("device = {%q %q %q %q %q}, want {%q %q %q %q %q}",
			got.ID, got.IdentityID, got.Name, got.Kind, got.Status,
			want.ID, want.IdentityID, want.Name, want.Kind, want.Status)
	}
	if got.LastStep != want.LastStep || got.FailedAttempts != want.FailedAttempts || got.KeyVersion != want.KeyVersion {
		t.Errorf("device counters = {LastStep %d FailedAttempts %d KeyVersion %d}, want {%d %d %d}",
			got.LastStep, got.FailedAttempts, got.KeyVersion, want.LastStep, want.FailedAttempts, want.KeyVersion)
	}
	// nil and empty alike: a TOTP device has no public key either way.
	if !bytes.Equal(got.Secret, want.Secret) {
		t.Errorf("Secret = %x, want %x", got.Secret, want.Secret)
	}
	if !bytes.Equal(got.PublicKey, want.PublicKey) {
		t.Errorf("PublicKey = %x, want %x", got.PublicKey, want.PublicKey)
	}
	storeSameTime(t, "CreatedAt", got.CreatedAt, want.CreatedAt)
	storeSameTime(t, "UpdatedAt", got.UpdatedAt, want.UpdatedAt)
	storeSameTime(t, "LastUsedAt", got.LastUsedAt, want.LastUsedAt)
}

// storeDeviceIDs lists the IDs of ds in order.
func storeDeviceIDs(ds []storage.Device) []string {
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	return ids
}

func storeTestDeviceCRUD(t *testing.T, s storage.Store) {
	ctx := t.Context()
	id := storeIdentity(1)
	storeMust(t, "CreateIdentity", s.CreateIdentity(ctx, id))
	// Created out of ID order, and one without a creation time, to show the
	// list is by time then ID, zero time first.
	totp := storeDevice(3, id.ID)
	totp.CreatedAt = storeT0.Add(time.Hour)
	push := storeDevice(2, id.ID)
	push.Kind, push.Status = storage.DevicePush, storage.DeviceActive
	push.PublicKey = []byte("0Y0\x13\x06\a*\x86H\xce=\x02\x01\x06\b*\x86H\xce=\x03\x01\x07\x03B\x00\x04")
	push.LastStep, push.FailedAttempts, push.KeyVersion = 59_012_345, 2, 3_372_499_388 // data-key IDs are uint32
	push.LastUsedAt = storeT0.Add(30 * time.Minute)
	sameTime := storeDevice(1, id.ID)
	sameTime.CreatedAt = totp.CreatedAt
	undated := storeDevice(9, id.ID)
	undated.CreatedAt = time.Time{}
	for _, d := range []storage.Device{totp, push, sameTime, undated} {
		storeMust(t, "CreateDevice "+d.ID, s.CreateDevice(ctx, d))
	}

	got, err := s.GetDevice(ctx, push.ID)
	storeMust(t, "GetDevice", err)
	storeCheckDevice(t, got, push)

	list, err := s.ListDevices(ctx, id.ID)
	storeMust(t, "ListDevices", err)
	want := []storage.Device{undated, push, sameTime, totp}
	if fmt.Sprint(storeDeviceIDs(list)) != fmt.Sprint(storeDeviceIDs(want)) {
		t.Fatalf("ListDevices order = %v, want %v (oldest first, then by ID)", storeDeviceIDs(list), storeDeviceIDs(want))
	}
	for i := range list {
		storeCheckDevice(t, list[i], want[i])
	}

	used := storeT0.Add(2 * time.Hour)
	storeMust(t, "UpdateDevice", s.UpdateDevice(ctx, totp.ID, func(d storage.Device) (storage.Device, error) {
		storeCheckDevice(t, d, totp)
		d.Status = storage.DeviceActive
		d.Name = "Telefono nuovo"
		d.LastStep, d.FailedAttempts = 59_012_400, 1
		d.Secret = []byte{0xde, 0xad}
		d.PublicKey = []byte{0x01}
		d.KeyVersion = 2
		d.UpdatedAt, d.LastUsedAt = used, used
		return d, nil
	}))
	wantTOTP := totp
	wantTOTP.Status, wantTOTP.Name = storage.DeviceActive, "Telefono nuovo"
	wantTOTP.LastStep, wantTOTP.FailedAttempts = 59_012_400, 1
	wantTOTP.Secret, wantTOTP.PublicKey, wantTOTP.KeyVersion = []byte{0xde, 0xad}, []byte{0x01}, 2
	wantTOTP.UpdatedAt, wantTOTP.LastUsedAt = used, used
	got, err = s.GetDevice(ctx, totp.ID)
	storeMust(t, "GetDevice after update", err)
	storeCheckDevice(t, got, wantTOTP)

	// Clearing LastUsedAt reads back as the zero time.
	storeMust(t, "UpdateDevice clear", s.UpdateDevice(ctx, totp.ID, func(d storage.Device) (storage.Device, error) {
		d.LastUsedAt = time.Time{}
		return d, nil
	}))
	got, err = s.GetDevice(ctx, totp.ID)
	storeMust(t, "GetDevice after clear", err)
	storeSameTime(t, "LastUsedAt after clear", got.LastUsedAt, time.Time{})

	storeMust(t, "DeleteDevice", s.DeleteDevice(ctx, push.ID))
	_, err = s.GetDevice(ctx, push.ID)
	storeWantErr(t, "GetDevice after delete", err, storage.ErrNotFound)
	list, err = s.ListDevices(ctx, id.ID)
	storeMust(t, "ListDevices after delete", err)
	if fmt.Sprint(storeDeviceIDs(list)) != fmt.Sprint([]string{undated.ID, sameTime.ID, totp.ID}) {
		t.Errorf("ListDevices after delete = %v", storeDeviceIDs(list))
	}
	// The ID is free again.
	storeMust(t, "CreateDevice after delete", s.CreateDevice(ctx, push))
}

func storeTestDeviceErrors(t *testing.T, s storage.Store) {
	ctx := t.Context()
	id := storeIdentity(1)
	storeMust(t, "CreateIdentity", s.CreateIdentity(ctx, id))
	d := storeDevice(1, id.ID)
	storeMust(t, "CreateDevice", s.CreateDevice(ctx, d))

	again := storeDevice(1, id.ID)
	again.Name = "another phone"
	storeWantErr(t, "CreateDevice(same ID)", s.CreateDevice(ctx, again), storage.ErrAlreadyExists)
	orphan := storeDevice(2, "missing")
	storeWantErr(t, "CreateDevice(unknown identity)", s.CreateDevice(ctx, orphan), storage.ErrNotFound)
	orphan.IdentityID = ""
	storeWantErr(t, "CreateDevice(no identity)", s.CreateDevice(ctx, orphan), storage.ErrNotFound)

	_, err := s.GetDevice(ctx, "missing")
	storeWantErr(t, "GetDevice(missing)", err, storage.ErrNotFound)
	storeWantErr(t, "DeleteDevice(missing)", s.DeleteDevice(ctx, "missing"), storage.ErrNotFound)
	called := false
	err = s.UpdateDevice(ctx, "missing", func(d storage.Device) (storage.Device, error) {
		called = true
		return d, nil
	})
	storeWantErr(t, "UpdateDevice(missing)", err, storage.ErrNotFound)
	if called {
		t.Error("UpdateDevice(missing) called fn")
	}
	list, err := s.ListDevices(ctx, "missing")
	storeMust(t, "ListDevices(unknown identity)", err)
	if len(list) != 0 {
		t.Errorf("ListDevices(unknown identity) = %d devices, want none", len(list))
	}

	for _, bad := range []struct {
		what   string
		mutate func(*storage.Device)
	}{
		{"an empty ID", func(d *storage.Device) { d.ID = "" }},
		{"an unknown kind", func(d *storage.Device) { d.Kind = "sms" }},
		{"an empty status", func(d *storage.Device) { d.Status = "" }},
		{"a name with NUL", func(d *storage.Device) { d.Name = "phone\x00" }},
	} {
		v := storeDevice(3, id.ID)
		bad.mutate(&v)
		if err := s.CreateDevice(ctx, v); err == nil || errors.Is(err, storage.ErrAlreadyExists) || errors.Is(err, storage.ErrNotFound) {
			t.Errorf("CreateDevice with %s: err = %v, want a validation error", bad.what, err)
		}
		if bad.what == "an empty ID" {
			continue // an update keeps the ID whatever fn returns
		}
		err := s.UpdateDevice(ctx, d.ID, func(cur storage.Device) (storage.Device, error) {
			bad.mutate(&cur)
			return cur, nil
		})
		if err == nil {
			t.Errorf("UpdateDevice to %s succeeded", bad.what)
		}
	}
	got, err := s.GetDevice(ctx, d.ID)
	storeMust(t, "GetDevice after refused updates", err)
	storeCheckDevice(t, got, d)
}

// storeTestDeviceOddText: device IDs reach the store from requests; odd
// bytes read as "no such device".
func storeTestDeviceOddText(t *testing.T, s storage.Store) {
	ctx := t.Context()
	id := storeIdentity(1)
	storeMust(t, "CreateIdentity", s.CreateIdentity(ctx, id))
	storeMust(t, "CreateDevice", s.CreateDevice(ctx, storeDevice(1, id.ID)))
	for _, odd := range []string{"dev-001\x00", "\xff\xfe", "dev\xc3"} {
		_, err := s.GetDevice(ctx, odd)
		storeWantErr(t, fmt.Sprintf("GetDevice(%q)", odd), err, storage.ErrNotFound)
		storeWantErr(t, fmt.Sprintf("DeleteDevice(%q)", odd), s.DeleteDevice(ctx, odd), storage.ErrNotFound)
		err = s.UpdateDevice(ctx, odd, func(d storage.Device) (storage.Device, error) { return d, nil })
		storeWantErr(t, fmt.Sprintf("UpdateDevice(%q)", odd), err, storage.ErrNotFound)
		list, err := s.ListDevices(ctx, odd)
		if err != nil || len(list) != 0 {
			t.Errorf("ListDevices(%q) = %d devices, %v; want none, nil", odd, len(list), err)
		}
	}
}

// storeTestDeviceBytesExact: sealed secrets and keys are binary and must come
// back byte for byte, whatever their length.
func storeTestDeviceBytesExact(t *testing.T, s storage.Store) {
	ctx := t.Context()
	id := storeIdentity(1)
	storeMust(t, "CreateIdentity", s.CreateIdentity(ctx, id))
	every := make([]byte, 256)
	for i := range every {
		every[i] = byte(i)
	}
	long := bytes.Repeat([]byte{0x00, 0x80, 0xff}, 3000)
	cases := []struct{ secret, public []byte }{
		{every, long},
		{[]byte{0}, nil},
		{nil, []byte{}},
		{[]byte("\\x00'\";--"), []byte{0xef, 0xbb, 0xbf}},
	}
	for i, c := range cases {
		d := storeDevice(i, id.ID)
		d.Secret, d.PublicKey = c.secret, c.public
		storeMust(t, "CreateDevice", s.CreateDevice(ctx, d))
		got, err := s.GetDevice(ctx, d.ID)
		storeMust(t, "GetDevice", err)
		storeCheckDevice(t, got, d)
	}
	// And through an update, which writes every column again.
	storeMust(t, "UpdateDevice", s.UpdateDevice(ctx, storeDevice(1, id.ID).ID, func(d storage.Device) (storage.Device, error) {
		d.Secret, d.PublicKey = long, every
		return d, nil
	}))
	got, err := s.GetDevice(ctx, storeDevice(1, id.ID).ID)
	storeMust(t, "GetDevice after update", err)
	if !bytes.Equal(got.Secret, long) || !bytes.Equal(got.PublicKey, every) {
		t.Error("binary fields changed through an update")
	}
}

// storeTestDeviceCascade: a deleted identity takes its devices with it, and
// nobody else's.
func storeTestDeviceCascade(t *testing.T, s storage.Store) {
	ctx := t.Context()
	gone, kept := storeIdentity(1), storeIdentity(2)
	storeMust(t, "CreateIdentity", s.CreateIdentity(ctx, gone))
	storeMust(t, "CreateIdentity", s.CreateIdentity(ctx, kept))
	for i, owner := range []string{gone.ID, gone.ID, kept.ID} {
		storeMust(t, "CreateDevice", s.CreateDevice(ctx, storeDevice(i, owner)))
	}
	storeMust(t, "DeleteIdentity", s.DeleteIdentity(ctx, gone.ID))
	for i := range 2 {
		_, err := s.GetDevice(ctx, storeDevice(i, gone.ID).ID)
		storeWantErr(t, "GetDevice of a deleted identity", err, storage.ErrNotFound)
	}
	list, err := s.ListDevices(ctx, gone.ID)
	storeMust(t, "ListDevices of a deleted identity", err)
	if len(list) != 0 {
		t.Errorf("a deleted identity still lists %d devices", len(list))
	}
	list, err = s.ListDevices(ctx, kept.ID)
	storeMust(t, "ListDevices of the other identity", err)
	if len(list) != 1 {
		t.Fatalf("the other identity lists %d devices, want 1", len(list))
	}
	storeCheckDevice(t, list[0], storeDevice(2, kept.ID))
	// A new identity with the old ID starts with no devices.
	storeMust(t, "CreateIdentity again", s.CreateIdentity(ctx, gone))
	list, err = s.ListDevices(ctx, gone.ID)
	storeMust(t, "ListDevices of the re-created identity", err)
	if len(list) != 0 {
		t.Errorf("a re-created identity inherits %d devices", len(list))
	}
}

func storeTestDeviceUpdateFnErrorAborts(t *testing.T, s storage.Store) {
	ctx := t.Context()
	id := storeIdentity(1)
	storeMust(t, "CreateIdentity", s.CreateIdentity(ctx, id))
	d := storeDevice(1, id.ID)
	storeMust(t, "CreateDevice", s.CreateDevice(ctx, d))
	err := s.UpdateDevice(ctx, d.ID, func(v storage.Device) (storage.Device, error) {
		v.Status = storage.DeviceRevoked
		v.FailedAttempts = 99
		v.Secret[0] = 0x42 // even a change made in place to what fn received
		return v, storeErrAbort
	})
	if err != storeErrAbort {
		t.Errorf("UpdateDevice returned %v, want the fn error as is", err)
	}
	got, err := s.GetDevice(ctx, d.ID)
	storeMust(t, "GetDevice", err)
	storeCheckDevice(t, got, storeDevice(1, id.ID))
}

// storeTestDeviceUpdateKeepsOwner: fn can move neither the device's ID nor
// its identity (its secret is sealed to that identity).
func storeTestDeviceUpdateKeepsOwner(t *testing.T, s storage.Store) {
	ctx := t.Context()
	owner, other := storeIdentity(1), storeIdentity(2)
	storeMust(t, "CreateIdentity", s.CreateIdentity(ctx, owner))
	storeMust(t, "CreateIdentity", s.CreateIdentity(ctx, other))
	d := storeDevice(1, owner.ID)
	storeMust(t, "CreateDevice", s.CreateDevice(ctx, d))
	err := s.UpdateDevice(ctx, d.ID, func(v storage.Device) (storage.Device, error) {
		v.ID = "dev-other"
		v.IdentityID = other.ID
		v.Status = storage.DeviceActive
		return v, nil
	})
	storeMust(t, "UpdateDevice", err)
	want := d
	want.Status = storage.DeviceActive
	got, err := s.GetDevice(ctx, d.ID)
	storeMust(t, "GetDevice", err)
	storeCheckDevice(t, got, want)
	_, err = s.GetDevice(ctx, "dev-other")
	storeWantErr(t, "GetDevice(dev-other)", err, storage.ErrNotFound)
	list, err := s.ListDevices(ctx, other.ID)
	storeMust(t, "ListDevices", err)
	if len(list) != 0 {
		t.Errorf("the device moved to another identity")
	}
}

// storeTestDeviceConcurrentFailedAttempts: no wrong code may go uncounted,
// or the device lockout weakens.
func storeTestDeviceConcurrentFailedAttempts(t *testing.T, s storage.Store) {
	ctx := t.Context()
	id := storeIdentity(1)
	storeMust(t, "CreateIdentity", s.CreateIdentity(ctx, id))
	d := storeDevice(1, id.ID)
	storeMust(t, "CreateDevice", s.CreateDevice(ctx, d))
	const n = 50
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			<-start
			errs <- s.UpdateDevice(ctx, d.ID, func(v storage.Device) (storage.Device, error) {
				v.FailedAttempts++
				return v, nil
			})
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("UpdateDevice: %v", err)
		}
	}
	got, err := s.GetDevice(ctx, d.ID)
	storeMust(t, "GetDevice", err)
	if got.FailedAttempts != n {
		t.Errorf("FailedAttempts = %d after %d concurrent increments", got.FailedAttempts, n)
	}
}

// storeErrStaleStep is what a verifier returns for a code of a step already used.
var storeErrStaleStep = errors.New("conformance: TOTP step not after the last accepted one")

// storeTestDeviceLastStepMonotonic is the single-use check of TOTP codes:
// each caller accepts its step only if it is later than LastStep. Whatever
// the interleaving, LastStep ends at the highest step and never moves back.
func storeTestDeviceLastStepMonotonic(t *testing.T, s storage.Store) {
	ctx := t.Context()
	id := storeIdentity(1)
	storeMust(t, "CreateIdentity", s.CreateIdentity(ctx, id))
	d := storeDevice(1, id.ID)
	d.LastStep = 59_000_000
	storeMust(t, "CreateDevice", s.CreateDevice(ctx, d))
	const n = 20
	start := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted := 0
	for i := range n {
		// Steps in an order unrelated to when goroutines get scheduled.
		step := d.LastStep + 1 + int64((i*7)%n)
		wg.Go(func() {
			<-start
			err := s.UpdateDevice(ctx, d.ID, func(v storage.Device) (storage.Device, error) {
				if step <= v.LastStep {
					return v, storeErrStaleStep
				}
				v.LastStep = step
				return v, nil
			})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				accepted++
			case err != storeErrStaleStep:
				t.Errorf("UpdateDevice(step %d): %v", step, err)
			}
		})
	}
	close(start)
	wg.Wait()
	got, err := s.GetDevice(ctx, d.ID)
	storeMust(t, "GetDevice", err)
	if want := d.LastStep + n; got.LastStep != want {
		t.Errorf("LastStep = %d, want the highest step %d", got.LastStep, want)
	}
	if accepted < 1 || accepted > n {
		t.Errorf("%d updates accepted, want between 1 and %d", accepted, n)
	}
	// The highest step, once used, is refused.
	err = s.UpdateDevice(ctx, d.ID, func(v storage.Device) (storage.Device, error) {
		if d.LastStep+n <= v.LastStep {
			return v, storeErrStaleStep
		}
		return v, nil
	})
	if err != storeErrStaleStep {
		t.Errorf("replaying the highest step: err = %v, want the stale-step error", err)
	}
}

func storeAuditEvent(n int) storage.AuditEvent {
	return storage.AuditEvent{
		Time:      storeT0.Add(time.Duration(n) * time.Second),
		Actor:     "operator:alice",
		Action:    "identity.suspend",
		Target:    fmt.Sprintf("id-%03d", n),
		Outcome:   "success",
		RequestID: fmt.Sprintf("req-%d", n),
		Details:   map[string]string{"reason": "holder request", "n": fmt.Sprint(n)},
	}
}

// storeVerifyChain checks that evs are records 1..len(evs), each hash
// recomputes and each record points at the one before.
func storeVerifyChain(t *testing.T, evs []storage.AuditEvent) {
	t.Helper()
	prev := ""
	for i, ev := range evs {
		if ev.Seq != int64(i+1) {
			t.Fatalf("record %d has Seq %d, want %d (gap or reordering)", i, ev.Seq, i+1)
		}
		if ev.PrevHash != prev {
			t.Fatalf("record %d: PrevHash %q, want %q (chain forks)", ev.Seq, ev.PrevHash, prev)
		}
		if h := storage.AuditHash(ev); ev.Hash != h {
			t.Fatalf("record %d: stored Hash %q, recomputed %q", ev.Seq, ev.Hash, h)
		}
		prev = ev.Hash
	}
}

func storeTestAuditChain(t *testing.T, s storage.Store) {
	ctx := t.Context()
	evs, err := s.ListAudit(ctx, 0, 10)
	storeMust(t, "ListAudit on an empty log", err)
	if len(evs) != 0 {
		t.Fatalf("empty store lists %d audit records", len(evs))
	}
	var appended []storage.AuditEvent
	for i := range 3 {
		in := storeAuditEvent(i)
		if i == 2 {
			in.Details = nil
		}
		rec, err := s.AppendAudit(ctx, in)
		storeMust(t, "AppendAudit", err)
		if rec.Seq != int64(i+1) || rec.Actor != in.Actor || rec.Action != in.Action || rec.Target != in.Target ||
			rec.Outcome != in.Outcome || rec.RequestID != in.RequestID {
			t.Errorf("AppendAudit returned %+v for %+v", rec, in)
		}
		storeSameTime(t, "AppendAudit Time", rec.Time, in.Time)
		appended = append(appended, rec)
	}
	storeVerifyChain(t, appended)

	listed, err := s.ListAudit(ctx, 0, 10)
	storeMust(t, "ListAudit", err)
	if len(listed) != len(appended) {
		t.Fatalf("ListAudit returned %d records, want %d", len(listed), len(appended))
	}
	storeVerifyChain(t, listed)
	for i, got := range listed {
		want := appended[i]
		if got.Hash != want.Hash || got.Actor != want.Actor || got.Outcome != want.Outcome {
			t.Errorf("listed record %d differs from the appended one", got.Seq)
		}
		storeSameTime(t, "listed Time", got.Time, want.Time)
		storeSameMap(t, "listed Details", got.Details, want.Details)
	}
}

// storeTestAuditConcurrentAppend: concurrent appenders must leave one
// unbroken chain with contiguous sequence numbers.
func storeTestAuditConcurrentAppend(t *testing.T, s storage.Store) {
	ctx := t.Context()
	const n = 100
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, err := s.AppendAudit(ctx, storeAuditEvent(i))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("AppendAudit: %v", err)
		}
	}
	evs, err := s.ListAudit(ctx, 0, 2*n)
	storeMust(t, "ListAudit", err)
	if len(evs) != n {
		t.Fatalf("ListAudit returned %d records after %d appends", len(evs), n)
	}
	storeVerifyChain(t, evs)
	targets := map[string]bool{}
	for _, ev := range evs {
		targets[ev.Target] = true
	}
	if len(targets) != n {
		t.Errorf("%d distinct events stored, want %d", len(targets), n)
	}
}

func storeTestAuditPaging(t *testing.T, s storage.Store) {
	ctx := t.Context()
	for i := range 7 {
		_, err := s.AppendAudit(ctx, storeAuditEvent(i))
		storeMust(t, "AppendAudit", err)
	}
	cases := []struct {
		after    int64
		limit    int
		wantSeqs []int64
	}{
		{0, 3, []int64{1, 2, 3}},
		{3, 3, []int64{4, 5, 6}},
		{6, 3, []int64{7}},
		{7, 3, nil},
		{100, 3, nil},
		{2, 1, []int64{3}},
		{0, 1000, []int64{1, 2, 3, 4, 5, 6, 7}},
	}
	for _, tc := range cases {
		evs, err := s.ListAudit(ctx, tc.after, tc.limit)
		storeMust(t, fmt.Sprintf("ListAudit(%d, %d)", tc.after, tc.limit), err)
		var seqs []int64
		for _, ev := range evs {
			seqs = append(seqs, ev.Seq)
		}
		if fmt.Sprint(seqs) != fmt.Sprint(tc.wantSeqs) {
			t.Errorf("ListAudit(%d, %d) seqs = %v, want %v", tc.after, tc.limit, seqs, tc.wantSeqs)
		}
	}

	// Paging through the whole log, as a verifier does, sees one chain.
	var all []storage.AuditEvent
	for after := int64(0); ; {
		page, err := s.ListAudit(ctx, after, 2)
		storeMust(t, "ListAudit page", err)
		if len(page) == 0 {
			break
		}
		all = append(all, page...)
		after = page[len(page)-1].Seq
	}
	storeVerifyChain(t, all)
	if len(all) != 7 {
		t.Errorf("paging saw %d records, want 7", len(all))
	}
}

// storeTestAuditOddText: an event carrying bytes a client chose (a failed
// login's username with NUL or invalid UTF-8) is still recorded, and what is
// read back verifies against the hash AppendAudit returned.
func storeTestAuditOddText(t *testing.T, s storage.Store) {
	ctx := t.Context()
	ev := storeAuditEvent(1)
	ev.Target = "mario\x00rossi\xff\xfe"
	ev.Details = map[string]string{"username": "a\x00b", "agent\xc3": "Mozilla/5.0 \xe2\x82", "ok": "Nicolò"}
	rec, err := s.AppendAudit(ctx, ev)
	storeMust(t, "AppendAudit with NUL and invalid UTF-8", err)
	if rec.Hash != storage.AuditHash(rec) {
		t.Error("the returned record does not match its own hash")
	}
	evs, err := s.ListAudit(ctx, 0, 1)
	storeMust(t, "ListAudit", err)
	if len(evs) != 1 {
		t.Fatalf("ListAudit returned %d records, want 1", len(evs))
	}
	storeVerifyChain(t, evs)
	if evs[0].Target != rec.Target || evs[0].Hash != rec.Hash {
		t.Errorf("listed record {Target %q Hash %s} differs from the appended {%q %s}", evs[0].Target, evs[0].Hash, rec.Target, rec.Hash)
	}
	storeSameMap(t, "Details", evs[0].Details, rec.Details)
	if evs[0].Details["ok"] != "Nicolò" {
		t.Errorf("valid text changed: %q", evs[0].Details["ok"])
	}
}

// storeTestTimesUTC: times given in another zone come back as the same
// instant, in UTC, at microsecond precision.
func storeTestTimesUTC(t *testing.T, s storage.Store) {
	ctx := t.Context()
	// A summer instant too, so the zone offset differs from the winter one.
	summer := time.Date(2026, 7, 14, 23, 59, 59, 999999999, storeRome())
	id := storeIdentity(1)
	id.CreatedAt, id.UpdatedAt = storeT0, summer
	storeMust(t, "CreateIdentity", s.CreateIdentity(ctx, id))
	got, err := s.GetIdentity(ctx, id.ID)
	storeMust(t, "GetIdentity", err)
	storeSameTime(t, "Identity.CreatedAt", got.CreatedAt, storeT0)
	storeSameTime(t, "Identity.UpdatedAt", got.UpdatedAt, summer)

	c := storage.Credential{IdentityID: id.ID, PasswordHash: "$argon2id$x", LastFailureAt: summer, LockedUntil: storeT0, UpdatedAt: summer}
	storeMust(t, "CreateCredential", s.CreateCredential(ctx, c))
	gotC, err := s.GetCredential(ctx, id.ID)
	storeMust(t, "GetCredential", err)
	storeCheckCredential(t, gotC, c)

	d := storeDevice(1, id.ID)
	d.CreatedAt, d.UpdatedAt, d.LastUsedAt = summer, storeT0, summer.Add(time.Hour)
	storeMust(t, "CreateDevice", s.CreateDevice(ctx, d))
	gotD, err := s.GetDevice(ctx, d.ID)
	storeMust(t, "GetDevice", err)
	storeCheckDevice(t, gotD, d)

	sp := storeSP(1)
	sp.CreatedAt, sp.UpdatedAt = summer, storeT0
	storeMust(t, "CreateServiceProvider", s.CreateServiceProvider(ctx, sp))
	gotSP, err := s.GetServiceProvider(ctx, sp.EntityID)
	storeMust(t, "GetServiceProvider", err)
	storeCheckSP(t, gotSP, sp)

	ev := storeAuditEvent(0)
	ev.Time = summer
	rec, err := s.AppendAudit(ctx, ev)
	storeMust(t, "AppendAudit", err)
	storeSameTime(t, "appended AuditEvent.Time", rec.Time, summer)
	evs, err := s.ListAudit(ctx, 0, 1)
	storeMust(t, "ListAudit", err)
	if len(evs) != 1 {
		t.Fatalf("ListAudit returned %d records, want 1", len(evs))
	}
	storeSameTime(t, "listed AuditEvent.Time", evs[0].Time, summer)
	if storage.AuditHash(evs[0]) != rec.Hash {
		t.Error("the hash of the listed record differs from the appended one: the stored time does not round-trip")
	}
}

func storeTestPing(t *testing.T, s storage.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Ping(ctx); err == nil {
		t.Error("Ping with a cancelled context succeeded")
	}
}

// BenchAppendAudit measures one audit append on s (for backend benchmarks).
func BenchAppendAudit(b *testing.B, s storage.Store) {
	ctx := b.Context()
	ev := storeAuditEvent(1)
	for b.Loop() {
		if _, err := s.AppendAudit(ctx, ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchAuditWriters measures audit appends per second with 1, 4 and 16
// concurrent writers spread over the given stores (one per node: several
// stores on one database stand for several IdP nodes), then checks that
// the log is still one unbroken chain. Group commit should make the rate
// grow with the writers, never fall.
func BenchAuditWriters(b *testing.B, stores ...storage.Store) {
	for _, writers := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			ctx := b.Context()
			ev := storeAuditEvent(1)
			// A rate needs more than a handful of appends: -benchtime=1x
			// would time one append, mostly the pool's first dial.
			total := int64(max(b.N, 100*writers))
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for w := range writers {
				s := stores[w%len(stores)]
				wg.Go(func() {
					for next.Add(1) <= total {
						if _, err := s.AppendAudit(ctx, ev); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(total)/elapsed.Seconds(), "appends/s")
		})
	}
	last := int64(0)
	for after := int64(0); ; {
		page, err := stores[0].ListAudit(b.Context(), after, 5000)
		if err != nil {
			b.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, ev := range page {
			if ev.Seq != last+1 || storage.AuditHash(ev) != ev.Hash {
				b.Fatalf("chain broken at record %d", ev.Seq)
			}
			last = ev.Seq
		}
		after = last
	}
}

// BenchGetIdentity measures one identity lookup by ID on s.
func BenchGetIdentity(b *testing.B, s storage.Store) {
	ctx := b.Context()
	id := storeIdentity(1)
	if err := s.CreateIdentity(ctx, id); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.GetIdentity(ctx, id.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// storeTestIdentitySessionEpoch: the epoch that ends an identity's sessions
// is kept by every write of the identity, concurrent advances are none of
// them lost, and the lifecycle update (which advances it on a transition)
// stores it with the state.
func storeTestIdentitySessionEpoch(t *testing.T, s storage.Store) {
	ctx := t.Context()
	a := storeIdentity(1)
	a.SessionEpoch = 5
	storeMust(t, "CreateIdentity", s.CreateIdentity(ctx, a))
	got, err := s.GetIdentity(ctx, a.ID)
	storeMust(t, "GetIdentity", err)
	storeCheckIdentity(t, got, a)

	const n = 20
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if err := s.UpdateIdentity(ctx, a.ID, func(id storage.Identity) (storage.Identity, error) {
				id.SessionEpoch++
				return id, nil
			}); err != nil {
				t.Errorf("UpdateIdentity: %v", err)
			}
		})
	}
	wg.Wait()
	got, err = s.GetIdentityByUsername(ctx, a.Username)
	storeMust(t, "GetIdentityByUsername", err)
	if got.SessionEpoch != 5+n {
		t.Errorf("epoch after %d concurrent advances = %d, want %d", n, got.SessionEpoch, 5+n)
	}
	// An update that leaves it alone keeps it.
	storeMust(t, "UpdateIdentity", s.UpdateIdentity(ctx, a.ID, func(id storage.Identity) (storage.Identity, error) {
		id.Attributes["email"] = "other@example.it"
		return id, nil
	}))
	list, err := s.ListIdentities(ctx)
	storeMust(t, "ListIdentities", err)
	if len(list) != 1 || list[0].SessionEpoch != 5+n {
		t.Errorf("ListIdentities = %+v, want the one identity at epoch %d", list, 5+n)
	}

	storeMust(t, "CreateLifecycle", s.CreateLifecycle(ctx, storage.IdentityLifecycle{IdentityID: a.ID, State: storage.IdentityActive}))
	storeMust(t, "UpdateLifecycle", s.UpdateLifecycle(ctx, a.ID, func(l storage.IdentityLifecycle, id storage.Identity) (storage.IdentityLifecycle, storage.Identity, error) {
		l.State = storage.IdentitySuspended
		id.SessionEpoch++
		return l, id, nil
	}))
	got, err = s.GetIdentity(ctx, a.ID)
	storeMust(t, "GetIdentity after UpdateLifecycle", err)
	if got.SessionEpoch != 6+n || got.Status != storage.IdentitySuspended {
		t.Errorf("after UpdateLifecycle: epoch %d, status %s; want %d, suspended", got.SessionEpoch, got.Status, 6+n)
	}
}
