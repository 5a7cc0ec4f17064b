package conformance

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/storage"
)

// The subtests below cover what keeps an SSO session bounded (one entry per
// SP, a cap, joins that write one entry) and the epoch a session carries so
// that ending an identity's sessions (Identity.SessionEpoch) can void it.

// ephTestSessionEpoch: the epoch comes back from every path that writes it.
func ephTestSessionEpoch(t *testing.T, e storage.Ephemeral) {
	ctx := t.Context()
	s := ephSession("sess-epoch")
	s.Epoch = 41
	if err := e.CreateSession(ctx, s); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	got, err := e.GetSession(ctx, s.ID)
	if err != nil || got.Epoch != 41 {
		t.Fatalf("GetSession = epoch %d, %v; want 41", got.Epoch, err)
	}
	p := storage.SessionParticipant{SPEntityID: "https://sp2.example.it", NameID: "_n2", IssuedAt: time.Now()}
	if err := e.AddParticipant(ctx, s.ID, p, time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("AddParticipant: %v", err)
	}
	if got, err = e.GetSession(ctx, s.ID); err != nil || got.Epoch != 41 {
		t.Fatalf("after AddParticipant: epoch %d, %v; want 41", got.Epoch, err)
	}
	if err := e.UpdateSession(ctx, s.ID, func(s storage.Session) (storage.Session, error) {
		if s.Epoch != 41 {
			t.Errorf("UpdateSession fn sees epoch %d, want 41", s.Epoch)
		}
		s.Epoch = 42
		return s, nil
	}); err != nil {
		t.Fatalf("UpdateSession: %v", err)
	}
	if got, err = e.GetSession(ctx, s.ID); err != nil || got.Epoch != 42 {
		t.Fatalf("after UpdateSession: epoch %d, %v; want 42", got.Epoch, err)
	}
}

// ephTestSessionOneEntryPerSP: a second Response to the same SP replaces
// its entry (the latest NameID and SessionIndex win) and moves the expiry;
// thousands of them leave the session as it was in size.
func ephTestSessionOneEntryPerSP(t *testing.T, e storage.Ephemeral) {
	ctx := t.Context()
	s := ephSession("sess-one-per-sp")
	if err := e.CreateSession(ctx, s); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	sp := s.Participants[0].SPEntityID
	var last storage.SessionParticipant
	var exp time.Time
	for i := range 200 {
		last = storage.SessionParticipant{SPEntityID: sp, NameID: fmt.Sprintf("_n%03d", i),
			SessionIndex: fmt.Sprintf("_i%03d", i), IssuedAt: time.Now().Round(0)}
		exp = time.Now().Add(2 * time.Hour).Round(0)
		if err := e.AddParticipant(ctx, s.ID, last, exp); err != nil {
			t.Fatalf("AddParticipant %d: %v", i, err)
		}
	}
	got, err := e.GetSession(ctx, s.ID)
	if err != nil {
		t.Fatalf("GetSession: %v", err)
	}
	want := s
	want.ExpiresAt = exp
	want.Participants = []storage.SessionParticipant{last}
	ephCheckSession(t, got, want)
}

// ephTestSessionParticipantsOrdered: participants come back by SP, however
// they were added.
func ephTestSessionParticipantsOrdered(t *testing.T, e storage.Ephemeral) {
	ctx := t.Context()
	s := ephSession("sess-order")
	s.Participants = nil
	if err := e.CreateSession(ctx, s); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	for _, sp := range []string{"https://c.example", "https://a.example", "https://b.example"} {
		if err := e.AddParticipant(ctx, s.ID, storage.SessionParticipant{SPEntityID: sp, NameID: "_n", IssuedAt: time.Now()}, s.ExpiresAt); err != nil {
			t.Fatalf("AddParticipant %s: %v", sp, err)
		}
	}
	got, err := e.GetSession(ctx, s.ID)
	if err != nil {
		t.Fatalf("GetSession: %v", err)
	}
	var sps []string
	for _, p := range got.Participants {
		sps = append(sps, p.SPEntityID)
	}
	if strings.Join(sps, " ") != "https://a.example https://b.example https://c.example" {
		t.Errorf("participants = %q, want ordered by SP", sps)
	}
}

// ephTestSessionCap: no write makes a session hold more than
// MaxSessionParticipants SPs or two entries for one SP.
func ephTestSessionCap(t *testing.T, e storage.Ephemeral) {
	ctx := t.Context()
	s := ephSession("sess-cap")
	s.Participants = nil
	if err := e.CreateSession(ctx, s); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	sp := func(i int) string { return fmt.Sprintf("https://sp%03d.example.it", i) }
	for i := range storage.MaxSessionParticipants {
		if err := e.AddParticipant(ctx, s.ID, storage.SessionParticipant{SPEntityID: sp(i), NameID: "_n", IssuedAt: time.Now()}, s.ExpiresAt); err != nil {
			t.Fatalf("AddParticipant %d: %v", i, err)
		}
	}
	extra := storage.SessionParticipant{SPEntityID: sp(storage.MaxSessionParticipants), NameID: "_n", IssuedAt: time.Now()}
	if err := e.AddParticipant(ctx, s.ID, extra, s.ExpiresAt); !errors.Is(err, storage.ErrSessionFull) {
		t.Errorf("AddParticipant past the cap: err = %v, want ErrSessionFull", err)
	}
	// An SP already in the session still gets its entry replaced.
	again := storage.SessionParticipant{SPEntityID: sp(0), NameID: "_again", IssuedAt: time.Now()}
	if err := e.AddParticipant(ctx, s.ID, again, s.ExpiresAt); err != nil {
		t.Errorf("AddParticipant for a present SP at the cap: %v", err)
	}
	got, err := e.GetSession(ctx, s.ID)
	if err != nil {
		t.Fatalf("GetSession: %v", err)
	}
	if len(got.Participants) != storage.MaxSessionParticipants || got.Participants[0].NameID != "_again" {
		t.Errorf("session holds %d participants (first NameID %q), want %d with the replaced entry",
			len(got.Participants), got.Participants[0].NameID, storage.MaxSessionParticipants)
	}
	if err := e.UpdateSession(ctx, s.ID, func(s storage.Session) (storage.Session, error) {
		s.Participants = append(s.Participants, extra)
		return s, nil
	}); err == nil {
		t.Error("UpdateSession past the cap: want an error")
	}
	if err := e.UpdateSession(ctx, s.ID, func(s storage.Session) (storage.Session, error) {
		s.Participants = append(s.Participants[:1], s.Participants[0])
		return s, nil
	}); err == nil {
		t.Error("UpdateSession with two entries for one SP: want an error")
	}
	over := ephSession("sess-cap-create")
	over.Participants = nil
	for i := range storage.MaxSessionParticipants + 1 {
		over.Participants = append(over.Participants, storage.SessionParticipant{SPEntityID: sp(i), NameID: "_n", IssuedAt: time.Now()})
	}
	if err := e.CreateSession(ctx, over); err == nil {
		t.Error("CreateSession past the cap: want an error")
	}
	dup := ephSession("sess-dup-sp")
	dup.Participants = append(dup.Participants, dup.Participants[0])
	if err := e.CreateSession(ctx, dup); err == nil {
		t.Error("CreateSession with two entries for one SP: want an error")
	}
	if _, err := e.GetSession(ctx, over.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a refused CreateSession left a session: %v", err)
	}
}

// ephTestSessionAddParticipantInvalid: no session, or nothing sensible to
// add, changes nothing.
func ephTestSessionAddParticipantInvalid(t *testing.T, e storage.Ephemeral) {
	ctx := t.Context()
	p := storage.SessionParticipant{SPEntityID: "https://sp.example.it", NameID: "_n", IssuedAt: time.Now()}
	if err := e.AddParticipant(ctx, "no-such-session", p, time.Now().Add(time.Hour)); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("AddParticipant to an unknown session: err = %v, want ErrNotFound", err)
	}
	if _, err := e.GetSession(ctx, "no-such-session"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("AddParticipant created a session: %v", err)
	}
	s := ephSession("sess-add-invalid")
	if err := e.CreateSession(ctx, s); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	if err := e.AddParticipant(ctx, s.ID, storage.SessionParticipant{NameID: "_n"}, time.Now().Add(time.Hour)); err == nil {
		t.Error("AddParticipant without an SP: want an error")
	}
	if err := e.AddParticipant(ctx, s.ID, p, time.Now().Add(-time.Second)); err == nil {
		t.Error("AddParticipant with an expiry in the past: want an error")
	}
	got, err := e.GetSession(ctx, s.ID)
	if err != nil {
		t.Fatalf("GetSession: %v", err)
	}
	ephCheckSession(t, got, s)
}

// ephTestSessionConcurrentAdd: concurrent joins of different SPs are all
// kept.
func ephTestSessionConcurrentAdd(t *testing.T, e storage.Ephemeral) {
	ephConcurrentJoins(t, e, "sess-concurrent-add", 40, e.AddParticipant)
}

// ephTestExpiryAddParticipant: a join sets the expiry it is given, shorter
// or longer, and a session past it is gone.
func ephTestExpiryAddParticipant(t *testing.T, e storage.Ephemeral) {
	ctx := t.Context()
	s := ephSession("sess-add-expiry")
	if err := e.CreateSession(ctx, s); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	exp := time.Now().Add(ephTTL)
	p := storage.SessionParticipant{SPEntityID: "https://sp2.example.it", NameID: "_n", IssuedAt: time.Now()}
	if err := e.AddParticipant(ctx, s.ID, p, exp); err != nil {
		t.Fatalf("AddParticipant: %v", err)
	}
	ephWait(t, exp.Add(ephMargin))
	if _, err := e.GetSession(ctx, s.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetSession past the expiry a join set: err = %v, want ErrNotFound", err)
	}
	if err := e.AddParticipant(ctx, s.ID, p, time.Now().Add(time.Hour)); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("AddParticipant to an expired session: err = %v, want ErrNotFound", err)
	}
}
