package conformance

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/storage"
)

// storeEnrolment is a request created at storeT0 + n minutes whose data
// holds bytes a JSON column would rewrite (key order, spacing).
func storeEnrolment(n int, state string) storage.Enrolment {
	return storage.Enrolment{
		ID:           fmt.Sprintf("enr-%03d", n),
		Code:         fmt.Sprintf("ABCDE%05d", n),
		State:        state,
		Path:         "video",
		IdentityType: "personal",
		FiscalNumber: "RSSMRA80A01H501U",
		Data:         []byte(`{"z": 1,  "a": "Müller"}`),
		CreatedAt:    storeT0.Add(time.Duration(n) * time.Minute),
		UpdatedAt:    storeT0.Add(time.Duration(n) * time.Minute),
	}
}

func storeCheckEnrolment(t *testing.T, got, want storage.Enrolment) {
	t.Helper()
	if got.ID != want.ID || got.Code != want.Code || got.State != want.State || got.Path != want.Path ||
		got.IdentityType != want.IdentityType || got.FiscalNumber != want.FiscalNumber {
		t.Errorf("enrolment = {%q %q %q %q %q %q}, want {%q %q %q %q %q %q}",
			got.ID, got.Code, got.State, got.Path, got.IdentityType, got.FiscalNumber,
			want.ID, want.Code, want.State, want.Path, want.IdentityType, want.FiscalNumber)
	}
	if !bytes.Equal(got.Data, want.Data) {
		t.Errorf("Data not kept byte for byte:\n got %q\nwant %q", got.Data, want.Data)
	}
	storeSameTime(t, "QueuedAt", got.QueuedAt, want.QueuedAt)
	storeSameTime(t, "DeadlineAt", got.DeadlineAt, want.DeadlineAt)
	storeSameTime(t, "CreatedAt", got.CreatedAt, want.CreatedAt)
	storeSameTime(t, "UpdatedAt", got.UpdatedAt, want.UpdatedAt)
}

func storeEnrolmentIDs(es []storage.Enrolment) []string {
	ids := make([]string, len(es))
	for i, e := range es {
		ids[i] = e.ID
	}
	return ids
}

func storeTestEnrolmentCRUD(t *testing.T, s storage.Store) {
	ctx := t.Context()
	a, b, c := storeEnrolment(1, "draft"), storeEnrolment(2, "awaiting_processing"), storeEnrolment(3, "rejected")
	b.QueuedAt, b.DeadlineAt = storeT0.Add(time.Hour), storeT0.Add(49*time.Hour)
	c.FiscalNumber = "VRDGPP80A01H501X"
	for _, e := range []storage.Enrolment{c, a, b} {
		storeMust(t, "CreateEnrolment "+e.ID, s.CreateEnrolment(ctx, e))
	}
	got, err := s.GetEnrolment(ctx, b.ID)
	storeMust(t, "GetEnrolment", err)
	storeCheckEnrolment(t, got, b)
	got, err = s.GetEnrolmentByCode(ctx, a.Code)
	storeMust(t, "GetEnrolmentByCode", err)
	storeCheckEnrolment(t, got, a)

	all, err := s.ListEnrolments(ctx, nil)
	storeMust(t, "ListEnrolments(all)", err)
	if ids := storeEnrolmentIDs(all); !slices.Equal(ids, []string{a.ID, b.ID, c.ID}) {
		t.Errorf("ListEnrolments(all) = %v, want oldest first", ids)
	}
	some, err := s.ListEnrolments(ctx, []string{"rejected", "awaiting_processing", "nope\x00"})
	storeMust(t, "ListEnrolments(states)", err)
	if ids := storeEnrolmentIDs(some); !slices.Equal(ids, []string{b.ID, c.ID}) {
		t.Errorf("ListEnrolments(rejected, awaiting_processing) = %v, want [%s %s]", ids, b.ID, c.ID)
	}
	none, err := s.ListEnrolments(ctx, []string{"closed"})
	storeMust(t, "ListEnrolments(closed)", err)
	if len(none) != 0 {
		t.Errorf("ListEnrolments(closed) = %v, want none", storeEnrolmentIDs(none))
	}
	byCF, err := s.ListEnrolmentsByFiscalNumber(ctx, "RSSMRA80A01H501U")
	storeMust(t, "ListEnrolmentsByFiscalNumber", err)
	if ids := storeEnrolmentIDs(byCF); !slices.Equal(ids, []string{a.ID, b.ID}) {
		t.Errorf("ListEnrolmentsByFiscalNumber = %v, want [%s %s]", ids, a.ID, b.ID)
	}

	later := storeT0.Add(2 * time.Hour)
	storeMust(t, "UpdateEnrolment", s.UpdateEnrolment(ctx, a.ID, func(e storage.Enrolment) (storage.Enrolment, error) {
		storeCheckEnrolment(t, e, a)
		e.State, e.Code, e.ID = "awaiting_recognition", "ZZZZZZZZZZ", "moved"
		e.Data = []byte(`{"b":2}`)
		e.QueuedAt, e.UpdatedAt = later, later
		return e, nil
	}))
	want := a
	want.State, want.Data, want.QueuedAt, want.UpdatedAt = "awaiting_recognition", []byte(`{"b":2}`), later, later
	got, err = s.GetEnrolment(ctx, a.ID)
	storeMust(t, "GetEnrolment after update", err)
	storeCheckEnrolment(t, got, want) // the code printed on receipts never changes
	_, err = s.GetEnrolmentByCode(ctx, "ZZZZZZZZZZ")
	storeWantErr(t, "GetEnrolmentByCode(new code)", err, storage.ErrNotFound)
}

func storeTestEnrolmentErrors(t *testing.T, s storage.Store) {
	ctx := t.Context()
	a := storeEnrolment(1, "draft")
	storeMust(t, "CreateEnrolment", s.CreateEnrolment(ctx, a))
	dupID := storeEnrolment(2, "draft")
	dupID.ID = a.ID
	storeWantErr(t, "CreateEnrolment(same ID)", s.CreateEnrolment(ctx, dupID), storage.ErrAlreadyExists)
	dupCode := storeEnrolment(3, "draft")
	dupCode.Code = a.Code
	storeWantErr(t, "CreateEnrolment(same code)", s.CreateEnrolment(ctx, dupCode), storage.ErrAlreadyExists)
	for name, mut := range map[string]func(*storage.Enrolment){
		"empty ID":    func(e *storage.Enrolment) { e.ID = "" },
		"empty code":  func(e *storage.Enrolment) { e.Code = "" },
		"empty state": func(e *storage.Enrolment) { e.State = "" },
		"NUL in path": func(e *storage.Enrolment) { e.Path = "vid\x00eo" },
	} {
		e := storeEnrolment(4, "draft")
		mut(&e)
		if err := s.CreateEnrolment(ctx, e); err == nil {
			t.Errorf("CreateEnrolment(%s) succeeded", name)
		}
	}
	_, err := s.GetEnrolment(ctx, "missing")
	storeWantErr(t, "GetEnrolment(missing)", err, storage.ErrNotFound)
	_, err = s.GetEnrolmentByCode(ctx, "bad\xffcode")
	storeWantErr(t, "GetEnrolmentByCode(invalid UTF-8)", err, storage.ErrNotFound)
	err = s.UpdateEnrolment(ctx, "missing", func(e storage.Enrolment) (storage.Enrolment, error) { return e, nil })
	storeWantErr(t, "UpdateEnrolment(missing)", err, storage.ErrNotFound)

	refused := errors.New("wrong state")
	err = s.UpdateEnrolment(ctx, a.ID, func(e storage.Enrolment) (storage.Enrolment, error) {
		e.State = "approved"
		return e, refused
	})
	if err != refused {
		t.Errorf("UpdateEnrolment: fn error = %v, want it returned as is", err)
	}
	got, err := s.GetEnrolment(ctx, a.ID)
	storeMust(t, "GetEnrolment", err)
	storeCheckEnrolment(t, got, a)
}

// storeTestEnrolmentConcurrentTransition: of many updates that each move
// the request out of one state only if it is still there, exactly one wins
// (two verifiers approving at once, E050).
func storeTestEnrolmentConcurrentTransition(t *testing.T, s storage.Store) {
	ctx := t.Context()
	e := storeEnrolment(1, "awaiting_processing")
	storeMust(t, "CreateEnrolment", s.CreateEnrolment(ctx, e))
	errMoved := errors.New("no longer awaiting processing")
	const n = 20
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			err := s.UpdateEnrolment(ctx, e.ID, func(cur storage.Enrolment) (storage.Enrolment, error) {
				if cur.State != "awaiting_processing" {
					return cur, errMoved
				}
				cur.State = fmt.Sprintf("approved-by-%d", i)
				return cur, nil
			})
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, errMoved):
				t.Errorf("UpdateEnrolment: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("%d concurrent transitions succeeded, want exactly 1", wins.Load())
	}
}

func storeOperator(n int) storage.Operator {
	return storage.Operator{
		ID:           fmt.Sprintf("op-%03d", n),
		Username:     fmt.Sprintf("operator%03d", n),
		Name:         "Anna Bianchi",
		Roles:        []string{"verifier", "video_operator"},
		PasswordHash: "$argon2id$v=19$m=65536,t=2,p=4$c2FsdA$aGFzaA",
		Status:       storage.OperatorActive,
		CreatedAt:    storeT0,
		UpdatedAt:    storeT0,
	}
}

func storeCheckOperator(t *testing.T, got, want storage.Operator) {
	t.Helper()
	if got.ID != want.ID || got.Username != want.Username || got.Name != want.Name ||
		got.PasswordHash != want.PasswordHash || got.ShopID != want.ShopID || got.Status != want.Status ||
		!slices.Equal(got.Roles, want.Roles) {
		t.Errorf("operator = %+v, want %+v", got, want)
	}
	gf, wf := got.SecondFactor, want.SecondFactor
	if gf.EnrolCodeHash != wf.EnrolCodeHash || gf.EnrolCodeTries != wf.EnrolCodeTries || gf.EnrolCodeBy != wf.EnrolCodeBy ||
		!gf.EnrolCodeExpires.Equal(wf.EnrolCodeExpires) || len(gf.Factors) != len(wf.Factors) {
		t.Errorf("operator second factor = %+v, want %+v", gf, wf)
	}
	for i := range min(len(gf.Factors), len(wf.Factors)) {
		g, w := gf.Factors[i], wf.Factors[i]
		if g.ID != w.ID || g.Kind != w.Kind || g.Name != w.Name || !bytes.Equal(g.Secret, w.Secret) || g.KeyVersion != w.KeyVersion ||
			g.LastStep != w.LastStep || !g.CreatedAt.Equal(w.CreatedAt) || !g.LastUsedAt.Equal(w.LastUsedAt) {
			t.Errorf("operator factor %d = %+v, want %+v", i, g, w)
		}
	}
	storeSameTime(t, "CreatedAt", got.CreatedAt, want.CreatedAt)
	storeSameTime(t, "UpdatedAt", got.UpdatedAt, want.UpdatedAt)
}

func storeTestOperatorCRUD(t *testing.T, s storage.Store) {
	ctx := t.Context()
	a, b := storeOperator(2), storeOperator(1)
	b.Roles, b.ShopID = []string{"shop_agent"}, "shop-7"
	storeMust(t, "CreateOperator a", s.CreateOperator(ctx, a))
	storeMust(t, "CreateOperator b", s.CreateOperator(ctx, b))
	got, err := s.GetOperator(ctx, a.ID)
	storeMust(t, "GetOperator", err)
	storeCheckOperator(t, got, a)
	got, err = s.GetOperatorByUsername(ctx, b.Username)
	storeMust(t, "GetOperatorByUsername", err)
	storeCheckOperator(t, got, b)
	list, err := s.ListOperators(ctx)
	storeMust(t, "ListOperators", err)
	if len(list) != 2 || list[0].ID != b.ID || list[1].ID != a.ID {
		t.Fatalf("ListOperators = %d operators, want b then a (by username)", len(list))
	}

	later := storeT0.Add(time.Hour)
	// The second factor round-trips: a sealed secret with bytes of every
	// value, a key version above 2^31, the enrolment code's state.
	sf := storage.OperatorFactors{EnrolCodeHash: strings.Repeat("ab", 32), EnrolCodeExpires: later.Add(72 * time.Hour),
		EnrolCodeTries: 2, EnrolCodeBy: "supervisor-1", Factors: []storage.OperatorFactor{
			{ID: "f1", Kind: storage.FactorTOTP, Name: "App", Secret: []byte{0, 1, 0xfe, 0xff, '"'}, KeyVersion: 0xfedcba98,
				LastStep: 59_000_000, CreatedAt: storeT0, LastUsedAt: later},
			{ID: "f2", Kind: storage.FactorWebAuthn, Name: "Chiave", Secret: []byte("sealed"), KeyVersion: 7, CreatedAt: storeT0}}}
	storeMust(t, "UpdateOperator", s.UpdateOperator(ctx, a.ID, func(o storage.Operator) (storage.Operator, error) {
		o.Status, o.Roles, o.UpdatedAt, o.ID = storage.OperatorDisabled, nil, later, "moved"
		o.SecondFactor = sf
		return o, nil
	}))
	want := a
	want.Status, want.Roles, want.UpdatedAt, want.SecondFactor = storage.OperatorDisabled, nil, later, sf
	got, err = s.GetOperator(ctx, a.ID)
	storeMust(t, "GetOperator after update", err)
	storeCheckOperator(t, got, want)
}

func storeTestOperatorErrors(t *testing.T, s storage.Store) {
	ctx := t.Context()
	a := storeOperator(1)
	storeMust(t, "CreateOperator", s.CreateOperator(ctx, a))
	dup := storeOperator(2)
	dup.Username = a.Username
	storeWantErr(t, "CreateOperator(same username)", s.CreateOperator(ctx, dup), storage.ErrAlreadyExists)
	for name, mut := range map[string]func(*storage.Operator){
		"empty username": func(o *storage.Operator) { o.Username = "" },
		"comma in role":  func(o *storage.Operator) { o.Roles = []string{"verifier,supervisor"} },
		"empty role":     func(o *storage.Operator) { o.Roles = []string{""} },
		"unknown status": func(o *storage.Operator) { o.Status = "enabled" },
		"invalid UTF-8":  func(o *storage.Operator) { o.Name = "\xff" },
	} {
		o := storeOperator(3)
		mut(&o)
		if err := s.CreateOperator(ctx, o); err == nil {
			t.Errorf("CreateOperator(%s) succeeded", name)
		}
	}
	_, err := s.GetOperator(ctx, "missing")
	storeWantErr(t, "GetOperator(missing)", err, storage.ErrNotFound)
	_, err = s.GetOperatorByUsername(ctx, "missing")
	storeWantErr(t, "GetOperatorByUsername(missing)", err, storage.ErrNotFound)
	err = s.UpdateOperator(ctx, "missing", func(o storage.Operator) (storage.Operator, error) { return o, nil })
	storeWantErr(t, "UpdateOperator(missing)", err, storage.ErrNotFound)
}

func storeTestTokenSingleUse(t *testing.T, s storage.Store) {
	ctx := t.Context()
	tok := storage.Token{Hash: "aa11", Purpose: "activate_identity", Subject: "id-1",
		ExpiresAt: storeT0.Add(72 * time.Hour), CreatedAt: storeT0}
	storeMust(t, "CreateToken", s.CreateToken(ctx, tok))
	storeWantErr(t, "CreateToken(same hash)", s.CreateToken(ctx, tok), storage.ErrAlreadyExists)
	if err := s.CreateToken(ctx, storage.Token{Hash: "bb", Purpose: "x"}); err == nil {
		t.Error("CreateToken without expiry succeeded")
	}

	got, err := s.GetToken(ctx, tok.Hash, tok.Purpose, storeT0)
	storeMust(t, "GetToken", err)
	if got.Subject != tok.Subject {
		t.Errorf("GetToken subject = %q, want %q", got.Subject, tok.Subject)
	}
	_, err = s.GetToken(ctx, tok.Hash, "verify_email", storeT0)
	storeWantErr(t, "GetToken(other purpose)", err, storage.ErrNotFound)
	_, err = s.GetToken(ctx, tok.Hash, tok.Purpose, tok.ExpiresAt)
	storeWantErr(t, "GetToken(at expiry)", err, storage.ErrNotFound)
	_, err = s.ConsumeToken(ctx, tok.Hash, "verify_email", storeT0)
	storeWantErr(t, "ConsumeToken(other purpose)", err, storage.ErrNotFound)
	_, err = s.ConsumeToken(ctx, tok.Hash, tok.Purpose, tok.ExpiresAt)
	storeWantErr(t, "ConsumeToken(at expiry)", err, storage.ErrNotFound)
	got, err = s.ConsumeToken(ctx, tok.Hash, tok.Purpose, tok.ExpiresAt.Add(-time.Second))
	storeMust(t, "ConsumeToken", err)
	if got.Subject != tok.Subject || got.Purpose != tok.Purpose || got.Hash != tok.Hash {
		t.Errorf("ConsumeToken = %+v, want %+v", got, tok)
	}
	storeSameTime(t, "ExpiresAt", got.ExpiresAt, tok.ExpiresAt)
	_, err = s.ConsumeToken(ctx, tok.Hash, tok.Purpose, storeT0)
	storeWantErr(t, "ConsumeToken(second use)", err, storage.ErrNotFound)
	_, err = s.GetToken(ctx, tok.Hash, tok.Purpose, storeT0)
	storeWantErr(t, "GetToken(after use)", err, storage.ErrNotFound)
	_, err = s.ConsumeToken(ctx, "bad\xff", tok.Purpose, storeT0)
	storeWantErr(t, "ConsumeToken(invalid UTF-8)", err, storage.ErrNotFound)
}

func storeTestTokenConcurrentConsume(t *testing.T, s storage.Store) {
	ctx := t.Context()
	tok := storage.Token{Hash: "cc22", Purpose: "activate_identity", Subject: "id-1", ExpiresAt: storeT0.Add(time.Hour)}
	storeMust(t, "CreateToken", s.CreateToken(ctx, tok))
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			_, err := s.ConsumeToken(ctx, tok.Hash, tok.Purpose, storeT0)
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, storage.ErrNotFound):
				t.Errorf("ConsumeToken: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("%d concurrent consumers got the token, want exactly 1", wins.Load())
	}
}

func storeTestTokenExpiry(t *testing.T, s storage.Store) {
	ctx := t.Context()
	for i, d := range []time.Duration{-time.Hour, 0, time.Hour} {
		storeMust(t, "CreateToken", s.CreateToken(ctx, storage.Token{Hash: fmt.Sprintf("h%d", i), Purpose: "p",
			ExpiresAt: storeT0.Add(d)}))
	}
	n, err := s.DeleteExpiredTokens(ctx, storeT0)
	storeMust(t, "DeleteExpiredTokens", err)
	if n != 2 {
		t.Errorf("DeleteExpiredTokens removed %d tokens, want 2", n)
	}
	if _, err := s.ConsumeToken(ctx, "h2", "p", storeT0); err != nil {
		t.Errorf("the unexpired token is gone: %v", err)
	}
}
