package lifecycle_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/lifecycle"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/storage/memory"
)

const day = 24 * time.Hour

// The table of §8.1, every state against every event.
func TestTransitionTable(t *testing.T) {
	states := []storage.IdentityStatus{storage.IdentityPending, storage.IdentityActive, storage.IdentitySuspended,
		storage.IdentityRevoked, storage.IdentityExpired}
	allowed := map[lifecycle.Event]map[storage.IdentityStatus]storage.IdentityStatus{
		lifecycle.EventActivate:   {storage.IdentityPending: storage.IdentityActive},
		lifecycle.EventSuspend:    {storage.IdentityActive: storage.IdentitySuspended},
		lifecycle.EventReactivate: {storage.IdentitySuspended: storage.IdentityActive},
		lifecycle.EventRevoke: {storage.IdentityPending: storage.IdentityRevoked, storage.IdentityActive: storage.IdentityRevoked,
			storage.IdentitySuspended: storage.IdentityRevoked, storage.IdentityExpired: storage.IdentityRevoked},
		lifecycle.EventRenew: {storage.IdentityActive: storage.IdentityActive, storage.IdentitySuspended: storage.IdentitySuspended},
	}
	for ev, ok := range allowed {
		for _, from := range states {
			got, err := lifecycle.Next(from, ev)
			if want, yes := ok[from]; yes {
				if err != nil || got != want {
					t.Errorf("Next(%s, %s) = %q, %v; want %s", from, ev, got, err, want)
				}
			} else if !errors.Is(err, lifecycle.ErrTransition) {
				t.Errorf("Next(%s, %s) = %q, %v; want ErrTransition", from, ev, got, err)
			}
		}
	}
	if _, err := lifecycle.Next(storage.IdentityActive, "explode"); !errors.Is(err, lifecycle.ErrTransition) {
		t.Errorf("unknown event: %v", err)
	}
}

// E073: the holder's suspension at the portal takes effect at once, lasts
// 30 days, and the holder gets an e-mail and an SMS (the receipt).
func TestE073_PortalSuspensionImmediateWithReceipt(t *testing.T) {
	e := newEnv(t)
	id := e.identity(1, "")
	l := e.suspendByHolder(id)
	e.state(id, storage.IdentitySuspended)
	s := l.Suspension
	if s == nil || s.Cause != "holder_request" || s.Channel != "portal" || s.RequestedBy != id ||
		!s.StartedAt.Equal(t0) || !s.Until.Equal(t0.Add(30*day)) {
		t.Fatalf("suspension = %+v", s)
	}
	n := e.sent.list()
	if len(n) != 1 || n[0].Kind != lifecycle.NoticeSuspended || !n[0].SMS || n[0].Email != "u1@example.it" ||
		n[0].Mobile != "+393331234567" || n[0].SPIDSuffix != "0001" {
		t.Errorf("notices = %+v", n)
	}
	// Bad input: a holder suspending someone else's identity.
	other := e.identity(2, "")
	e.unchanged(other, lifecycle.ErrForbidden, "lifecycle.suspend", func() error {
		_, err := e.svc.Suspend(t.Context(), other, lifecycle.SuspendRequest{Actor: holderOf(id),
			Cause: lifecycle.CauseHolderRequest, Channel: lifecycle.ChannelPortal})
		return err
	})
	// A second suspension of a suspended identity is not a transition.
	e.unchanged(id, lifecycle.ErrTransition, "lifecycle.suspend", func() error {
		_, err := e.svc.Suspend(t.Context(), id, lifecycle.SuspendRequest{Actor: holderOf(id),
			Cause: lifecycle.CauseHolderRequest, Channel: lifecycle.ChannelPortal})
		return err
	})
	// Unknown cause, and a cause the holder cannot give.
	e.unchanged(other, lifecycle.ErrInvalid, "lifecycle.suspend", func() error {
		_, err := e.svc.Suspend(t.Context(), other, lifecycle.SuspendRequest{Actor: care, Cause: "boredom", Channel: lifecycle.ChannelPEC})
		return err
	})
	e.unchanged(other, lifecycle.ErrForbidden, "lifecycle.suspend", func() error {
		_, err := e.svc.Suspend(t.Context(), other, lifecycle.SuspendRequest{Actor: holderOf(other),
			Cause: lifecycle.CauseSuspiciousActivity, Channel: lifecycle.ChannelPortal})
		return err
	})
}

// E074: a care agent suspends only after verifying the caller; PEC needs
// no such check.
func TestE074_CareAgentNeedsVerifiedCaller(t *testing.T) {
	e := newEnv(t)
	id := e.identity(1, "")
	e.unchanged(id, lifecycle.ErrOriginNotVerified, "lifecycle.suspend", func() error {
		_, err := e.svc.Suspend(t.Context(), id, lifecycle.SuspendRequest{Actor: care, Cause: lifecycle.CauseHolderRequest,
			Channel: lifecycle.ChannelPhone})
		return err
	})
	if _, err := e.svc.Suspend(t.Context(), id, lifecycle.SuspendRequest{Actor: care, Cause: lifecycle.CauseHolderRequest,
		Channel: lifecycle.ChannelPEC}); err != nil {
		t.Fatalf("suspension by PEC: %v", err)
	}
	e.state(id, storage.IdentitySuspended)

	id2 := e.identity(2, "")
	if _, err := e.svc.Suspend(t.Context(), id2, lifecycle.SuspendRequest{Actor: care, Cause: lifecycle.CauseHolderRequest,
		Channel: lifecycle.ChannelPhone, OriginVerified: true}); err != nil {
		t.Fatalf("suspension by phone after OTP: %v", err)
	}
	e.state(id2, storage.IdentitySuspended)
}

// E075: the identity's status is what the IdP checks before reusing an SSO
// session (idp.reusableSession needs Status == active) and after the
// password (nr23): the store changes it in the same transaction as the
// lifecycle, so a live session in the shared store is dead at once.
func TestE075_SuspendedSessionNotReused(t *testing.T) {
	e := newEnv(t)
	id := e.identity(1, "")
	eph := memory.New(memory.WithSweepInterval(0))
	defer eph.Close()
	sess := storage.Session{ID: "s1", IdentityID: id, Level: 1, AuthnInstant: time.Now(), CreatedAt: time.Now(),
		ExpiresAt: time.Now().Add(time.Hour)}
	if err := eph.CreateSession(t.Context(), sess); err != nil {
		t.Fatal(err)
	}
	reusable := func() bool { // the condition of idp.reusableSession
		s, err := eph.GetSession(t.Context(), "s1")
		if err != nil {
			return false
		}
		idn, err := e.st.GetIdentity(t.Context(), s.IdentityID)
		return err == nil && idn.Status == storage.IdentityActive
	}
	if !reusable() {
		t.Fatal("session not reusable before the suspension")
	}
	e.suspendByHolder(id)
	if reusable() {
		t.Error("a suspended identity's session is still reusable")
	}
}

// E076: with no complaint and the AVV10 checks passing, the identity is
// active again exactly at start + 30 days, and the holder is told.
func TestE076_ReactivatedAtDay30(t *testing.T) {
	e := newEnv(t)
	id := e.identity(1, "2030-01-01")
	e.suspendByHolder(id)
	e.runAt(t0.Add(30*day - time.Second))
	e.state(id, storage.IdentitySuspended)
	rep := e.runAt(t0.Add(30 * day))
	if rep.Reactivated != 1 {
		t.Errorf("report %+v", rep)
	}
	l := e.state(id, storage.IdentityActive)
	if l.Suspension != nil {
		t.Errorf("suspension kept after reactivation: %+v", l.Suspension)
	}
	if k := e.sent.kinds(); !slices.Equal(k, []string{"suspended", "reactivated"}) {
		t.Errorf("notices %v", k)
	}
	ev := e.lastAudit("lifecycle.reactivate", id)
	if ev.Actor != "system:scheduler" || ev.Details["from"] != "suspended" || ev.Details["to"] != "active" || ev.Outcome != audit.Success {
		t.Errorf("audit %+v", ev)
	}
	// Nothing more to do at the same instant or later the same day.
	if rep := e.runAt(t0.Add(30*day + time.Hour)); rep.Reactivated+rep.Notices != 0 {
		t.Errorf("second run did something: %+v", rep)
	}
}

// E077: an expired document or a changed contact keeps the identity
// suspended with reactivation_blocked.
func TestE077_ReactivationBlocked(t *testing.T) {
	for _, tc := range []struct {
		name, doc, reason string
		change            func(e *env, id string)
	}{
		{"document expired", "2026-12-01", "document_expired", nil},
		{"e-mail changed", "2030-01-01", "contacts_changed", func(e *env, id string) {
			_ = e.st.UpdateIdentity(t.Context(), id, func(i storage.Identity) (storage.Identity, error) {
				i.Attributes["email"] = "thief@example.it"
				return i, nil
			})
		}},
		{"mobile changed", "2030-01-01", "contacts_changed", func(e *env, id string) {
			_ = e.st.UpdateIdentity(t.Context(), id, func(i storage.Identity) (storage.Identity, error) {
				i.Attributes["mobilePhone"] = "+393339999999"
				return i, nil
			})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			id := e.identity(1, tc.doc)
			e.suspendByHolder(id)
			if tc.change != nil {
				tc.change(e, id)
			}
			rep := e.runAt(t0.Add(30 * day))
			l := e.state(id, storage.IdentitySuspended)
			if rep.Blocked != 1 || l.Suspension == nil || l.Suspension.Blocked != tc.reason {
				t.Fatalf("report %+v, suspension %+v", rep, l.Suspension)
			}
			if k := e.sent.kinds(); !slices.Equal(k, []string{"suspended", "reactivation_blocked"}) {
				t.Errorf("notices %v", k)
			}
			// Blocked stays blocked, without repeating the notice.
			e.runAt(t0.Add(60 * day))
			e.state(id, storage.IdentitySuspended)
			if n := len(e.sent.list()); n != 2 {
				t.Errorf("%d notices after a later run, want 2", n)
			}
		})
	}
}

// E078: a complaint uploaded during the suspension blocks the automatic
// reactivation; after review (verifier) and a second approval
// (supervisor) the identity is revoked for illicit_use.
func TestE078_PoliceReportLeadsToRevocation(t *testing.T) {
	e := newEnv(t)
	id := e.identity(1, "2030-01-01")
	e.suspendByHolder(id)
	e.clock.Set(t0.Add(5 * day))
	// Bad input: a report for someone else's identity.
	other := e.identity(2, "")
	e.unchanged(other, lifecycle.ErrForbidden, "lifecycle.police_report", func() error {
		_, err := e.svc.AttachPoliceReport(t.Context(), other, holderOf(id), "ev-1")
		return err
	})
	if _, err := e.svc.AttachPoliceReport(t.Context(), id, holderOf(id), "ev-1"); err != nil {
		t.Fatal(err)
	}
	// Without the report illicit_use cannot even be proposed.
	e.unchanged(other, lifecycle.ErrInvalid, "lifecycle.propose", func() error {
		_, err := e.svc.Propose(t.Context(), other, lifecycle.ProposalRequest{Actor: verifier, Event: lifecycle.EventRevoke,
			Cause: lifecycle.CauseIllicitUse, Channel: lifecycle.ChannelDesk})
		return err
	})
	e.runAt(t0.Add(30 * day))
	if l := e.state(id, storage.IdentitySuspended); l.Suspension.Blocked != "complaint_under_review" {
		t.Fatalf("suspension %+v", l.Suspension)
	}
	e.clock.Set(t0.Add(31 * day))
	if _, err := e.svc.Propose(t.Context(), id, lifecycle.ProposalRequest{Actor: verifier, Event: lifecycle.EventRevoke,
		Cause: lifecycle.CauseIllicitUse, Channel: lifecycle.ChannelDesk}); err != nil {
		t.Fatal(err)
	}
	e.state(id, storage.IdentitySuspended) // a proposal changes nothing yet
	e.unchanged(id, lifecycle.ErrForbidden, "lifecycle.approve", func() error {
		_, err := e.svc.Approve(t.Context(), id, verifier) // not a supervisor, and the proposer
		return err
	})
	l, err := e.svc.Approve(t.Context(), id, supervisor)
	if err != nil {
		t.Fatal(err)
	}
	l = e.state(id, storage.IdentityRevoked)
	r := l.Revocation
	if r == nil || r.Cause != "illicit_use" || !slices.Equal(r.ApprovedBy, []string{verifier.ID, supervisor.ID}) ||
		!r.RequestedAt.Equal(t0.Add(31*day)) || !r.EffectiveAt.Equal(t0.Add(31*day)) {
		t.Fatalf("revocation %+v", r)
	}
	ev := e.lastAudit("lifecycle.approve", id)
	if ev.Details["proposer"] != verifier.ID || ev.Details["approver"] != supervisor.ID || ev.Details["cause"] != "illicit_use" ||
		ev.Details["to"] != "revoked" {
		t.Errorf("approval audit %+v", ev.Details)
	}
}

// E079: suspensions for suspicious activity or lockout escalation never
// end by themselves.
func TestE079_NoAutomaticReactivation(t *testing.T) {
	for _, c := range []lifecycle.Cause{lifecycle.CauseSuspiciousActivity, lifecycle.CauseLockoutEscalation} {
		t.Run(string(c), func(t *testing.T) {
			e := newEnv(t)
			id := e.identity(1, "2030-01-01")
			l, err := e.svc.Suspend(t.Context(), id, lifecycle.SuspendRequest{Actor: verifier, Cause: c, Channel: lifecycle.ChannelDesk})
			if err != nil {
				t.Fatal(err)
			}
			if !l.Suspension.Until.IsZero() {
				t.Errorf("until = %v, want none", l.Suspension.Until)
			}
			for _, d := range []time.Duration{30 * day, 31 * day, 365 * day} {
				e.runAt(t0.Add(d))
				e.state(id, storage.IdentitySuspended)
			}
			// It ends through customer care under four eyes.
			if _, err := e.svc.Propose(t.Context(), id, lifecycle.ProposalRequest{Actor: care, Event: lifecycle.EventReactivate,
				Channel: lifecycle.ChannelPhone}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.svc.Approve(t.Context(), id, supervisor); err != nil {
				t.Fatal(err)
			}
			e.state(id, storage.IdentityActive)
		})
	}
}

// E080: notices 30 and 7 days before the document's expiry date (e-mail
// only), suspension the day after, reactivation by a verifier once a new
// document is in.
func TestE080_DocumentExpiry(t *testing.T) {
	e := newEnv(t)
	id := e.identity(1, "2027-03-10")
	rome, _ := time.LoadLocation("Europe/Rome")
	at := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 8, 0, 0, 0, rome) }
	e.runAt(at(2027, 2, 7)) // 31 days before
	e.runAt(at(2027, 2, 8)) // 30 days before
	e.runAt(at(2027, 3, 3)) // 7 days before
	e.runAt(at(2027, 3, 10))
	e.state(id, storage.IdentityActive)
	if k := e.sent.kinds(); !slices.Equal(k, []string{"document_expiry-30", "document_expiry-7"}) {
		t.Fatalf("notices %v", k)
	}
	for _, n := range e.sent.list() {
		if n.SMS {
			t.Errorf("document notice %+v asks for an SMS; §9 says e-mail", n)
		}
	}
	rep := e.runAt(time.Date(2027, 3, 11, 0, 0, 0, 0, rome))
	l := e.state(id, storage.IdentitySuspended)
	if rep.Suspended != 1 || l.Suspension.Cause != "document_expired" || !l.Suspension.Until.IsZero() {
		t.Fatalf("report %+v suspension %+v", rep, l.Suspension)
	}
	if ev := e.lastAudit("lifecycle.suspend", id); ev.Details["document_expiry"] != "2027-03-10" || ev.Details["cause"] != "document_expired" {
		t.Errorf("audit %+v", ev.Details)
	}
	e.unchanged(id, lifecycle.ErrInvalid, "lifecycle.reactivate", func() error {
		_, err := e.svc.ReactivateWithDocument(t.Context(), id, verifier)
		return err
	})
	e.unchanged(id, lifecycle.ErrForbidden, "lifecycle.reactivate", func() error {
		_, err := e.svc.ReactivateWithDocument(t.Context(), id, care)
		return err
	})
	if err := e.st.UpdateIdentity(t.Context(), id, func(i storage.Identity) (storage.Identity, error) {
		i.Attributes["idCard"] = "cartaIdentita CA11111BB ComuneDiRoma 2027-03-12 2037-03-12"
		return i, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ReactivateWithDocument(t.Context(), id, verifier); err != nil {
		t.Fatal(err)
	}
	e.state(id, storage.IdentityActive)
}

// E081: no authentication for 24 months revokes, after notices at 90, 30,
// 10 and 1 days; a login in between moves the deadline.
func TestE081_Inactivity(t *testing.T) {
	t.Run("revoked after the four notices", func(t *testing.T) {
		e := newEnv(t)
		id := e.identity(1, "")
		clearValidUntil(t, e, id)
		deadline := t0.AddDate(0, 24, 0)
		for _, d := range []int{91, 90, 45, 30, 10, 2, 1} {
			e.runAt(deadline.Add(-time.Duration(d) * day))
		}
		e.runAt(deadline.Add(-time.Second))
		e.state(id, storage.IdentityActive)
		if k := e.sent.kinds(); !slices.Equal(k, []string{"inactivity-90", "inactivity-30", "inactivity-10", "inactivity-1"}) {
			t.Fatalf("notices %v", k)
		}
		rep := e.runAt(deadline)
		l := e.state(id, storage.IdentityRevoked)
		if rep.Revoked != 1 || l.Revocation.Cause != "inactivity" || !slices.Equal(l.Revocation.ApprovedBy, []string{"system:scheduler"}) {
			t.Fatalf("report %+v revocation %+v", rep, l.Revocation)
		}
	})
	t.Run("a login moves the deadline", func(t *testing.T) {
		e := newEnv(t)
		id := e.identity(1, "")
		clearValidUntil(t, e, id)
		deadline := t0.AddDate(0, 24, 0)
		e.runAt(deadline.Add(-30 * day))
		login := deadline.Add(-5 * day)
		if err := e.svc.RecordAuth(t.Context(), id, login); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.RecordAuth(t.Context(), id, login.Add(-time.Hour)); err != nil { // older: ignored
			t.Fatal(err)
		}
		e.runAt(deadline)
		e.runAt(deadline.Add(day))
		l := e.state(id, storage.IdentityActive)
		if !l.LastAuthAt.Equal(login) {
			t.Errorf("last auth %v, want %v", l.LastAuthAt, login)
		}
		next := login.AddDate(0, 24, 0)
		e.runAt(next.Add(-90 * day))
		e.runAt(next)
		e.state(id, storage.IdentityRevoked)
		if k := e.sent.kinds(); !slices.Equal(k, []string{"inactivity-30", "inactivity-90", "revoked"}) {
			t.Errorf("notices %v", k)
		}
	})
}

func clearValidUntil(t *testing.T, e *env, id string) {
	t.Helper()
	if err := e.st.UpdateLifecycle(t.Context(), id, func(l storage.IdentityLifecycle, i storage.Identity) (storage.IdentityLifecycle, storage.Identity, error) {
		l.ValidUntil, l.NextDueAt = time.Time{}, time.Time{}
		return l, i, nil
	}); err != nil {
		t.Fatal(err)
	}
}

// E082 and E086: without renewal the identity is revoked at valid_until
// after the 90/30/10/1 notices; app secrets are destroyed at once, the
// disabled password hash after 90 days.
func TestE082_E086_ContractExpiry(t *testing.T) {
	e := newEnv(t)
	id := e.identity(1, "")
	ctx := t.Context()
	if err := e.st.CreateCredential(ctx, storage.Credential{IdentityID: id, PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"}); err != nil {
		t.Fatal(err)
	}
	if err := e.st.CreateDevice(ctx, storage.Device{ID: "dev-1", IdentityID: id, Kind: storage.DevicePush, Status: storage.DeviceActive,
		Secret: []byte("sealed-seed"), PublicKey: []byte("sealed-key")}); err != nil {
		t.Fatal(err)
	}
	end := t0.AddDate(2, 0, 0)
	for _, d := range []int{120, 90, 60, 30, 10, 1} {
		e.runAt(end.Add(-time.Duration(d) * day))
	}
	if k := e.sent.kinds(); !slices.Equal(k, []string{"expiry-90", "expiry-30", "expiry-10", "expiry-1"}) {
		t.Fatalf("notices %v", k)
	}
	for _, n := range e.sent.list() {
		if !n.SMS || !n.Date.Equal(end) {
			t.Errorf("notice %+v: want e-mail + SMS naming %v", n, end)
		}
	}
	e.runAt(end)
	l := e.state(id, storage.IdentityRevoked)
	if l.Revocation.Cause != "contract_expired" || !l.Revocation.RequestedAt.Equal(end) {
		t.Errorf("revocation %+v", l.Revocation)
	}
	d, err := e.st.GetDevice(ctx, "dev-1")
	if err != nil || d.Status != storage.DeviceRevoked || len(d.Secret) != 0 || len(d.PublicKey) != 0 {
		t.Errorf("device after revocation: %+v, %v", d, err)
	}
	e.runAt(end.Add(89 * day))
	if c, _ := e.st.GetCredential(ctx, id); c.PasswordHash == "" {
		t.Error("password hash deleted before 90 days")
	}
	rep := e.runAt(end.Add(90 * day))
	if c, _ := e.st.GetCredential(ctx, id); c.PasswordHash != "" || rep.PasswordsDeleted != 1 {
		t.Errorf("after 90 days: hash %q, report %+v", c.PasswordHash, rep)
	}
	e.lastAudit("lifecycle.password_deleted", id)
	// Nothing else will ever happen to it.
	if l := e.life(id); !l.NextDueAt.Equal(lifecycle.Never) {
		t.Errorf("next due %v, want never", l.NextDueAt)
	}
}

// E083: renewal 40 days before expiry extends valid_until by the type's
// period from the old date; outside the window it is refused.
func TestE083_Renewal(t *testing.T) {
	e := newEnv(t)
	id := e.identity(1, "")
	end := t0.AddDate(2, 0, 0)
	e.clock.Set(end.Add(-100 * day))
	e.unchanged(id, lifecycle.ErrRenewalWindow, "lifecycle.renew", func() error {
		_, err := e.svc.Renew(t.Context(), id, holderOf(id))
		return err
	})
	e.runAt(end.Add(-90 * day)) // the 90-day notice goes out
	e.clock.Set(end.Add(-40 * day))
	e.unchanged(id, lifecycle.ErrForbidden, "lifecycle.renew", func() error {
		_, err := e.svc.Renew(t.Context(), id, care)
		return err
	})
	l, err := e.svc.Renew(t.Context(), id, holderOf(id))
	if err != nil {
		t.Fatal(err)
	}
	// Renewing at the portal is a login: inactivity counts from it.
	if err := e.svc.RecordAuth(t.Context(), id, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if want := t0.AddDate(4, 0, 0); !l.ValidUntil.Equal(want) {
		t.Errorf("valid until %v, want %v", l.ValidUntil, want)
	}
	idn, _ := e.st.GetIdentity(t.Context(), id)
	if got := idn.Attributes["expirationDate"]; got != "2030-11-24" {
		t.Errorf("expirationDate = %q", got)
	}
	// The old deadline passes without effect; the new one has its own notices.
	e.runAt(end.Add(day))
	e.state(id, storage.IdentityActive)
	e.runAt(t0.AddDate(4, 0, 0).Add(-90 * day))
	if k := e.sent.kinds(); !slices.Equal(k, []string{"expiry-90", "renewed", "expiry-90", "inactivity-90"}) {
		t.Errorf("notices %v", k)
	}

	// A professional identity renews for one year; a leap day becomes 28 Feb.
	pro := e.identity(2, "")
	_ = e.st.UpdateIdentity(t.Context(), pro, func(i storage.Identity) (storage.Identity, error) {
		i.Type = storage.IdentityProfessional
		return i, nil
	})
	leap := time.Date(2028, 2, 29, 12, 0, 0, 0, time.UTC)
	_ = e.st.UpdateLifecycle(t.Context(), pro, func(l storage.IdentityLifecycle, i storage.Identity) (storage.IdentityLifecycle, storage.Identity, error) {
		l.ValidUntil = leap
		return l, i, nil
	})
	e.clock.Set(leap.Add(-40 * day))
	l, err = e.svc.Renew(t.Context(), pro, supervisor)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2029, 2, 28, 12, 0, 0, 0, time.UTC); !l.ValidUntil.Equal(want) {
		t.Errorf("professional renewal to %v, want %v", l.ValidUntil, want)
	}
}

// E084: the proposer cannot approve; approval after 72 hours is refused;
// both people are in the audit record. The scheduler clears the expired
// proposal.
func TestE084_FourEyes(t *testing.T) {
	e := newEnv(t)
	id := e.identity(1, "")
	if _, err := e.svc.Propose(t.Context(), id, lifecycle.ProposalRequest{Actor: supervisor, Event: lifecycle.EventRevoke,
		Cause: lifecycle.CauseDeath, Channel: lifecycle.ChannelDesk}); err != nil {
		t.Fatal(err)
	}
	e.unchanged(id, lifecycle.ErrFourEyes, "lifecycle.approve", func() error {
		_, err := e.svc.Approve(t.Context(), id, supervisor)
		return err
	})
	e.unchanged(id, lifecycle.ErrForbidden, "lifecycle.approve", func() error {
		_, err := e.svc.Approve(t.Context(), id, care)
		return err
	})
	e.unchanged(id, lifecycle.ErrTransition, "lifecycle.propose", func() error { // one proposal at a time
		_, err := e.svc.Propose(t.Context(), id, lifecycle.ProposalRequest{Actor: care, Event: lifecycle.EventRevoke,
			Cause: lifecycle.CauseDeath, Channel: lifecycle.ChannelDesk})
		return err
	})
	e.clock.Set(t0.Add(72 * time.Hour))
	e.unchanged(id, lifecycle.ErrProposalExpired, "lifecycle.approve", func() error {
		_, err := e.svc.Approve(t.Context(), id, supervisor2)
		return err
	})
	rep := e.runAt(t0.Add(73 * time.Hour))
	if l := e.state(id, storage.IdentityActive); l.Pending != nil || rep.ProposalsExpired != 1 {
		t.Errorf("pending %+v, report %+v", l.Pending, rep)
	}
	e.lastAudit("lifecycle.proposal_expired", id)

	// A fresh proposal approved in time by someone else revokes.
	if _, err := e.svc.Propose(t.Context(), id, lifecycle.ProposalRequest{Actor: supervisor, Event: lifecycle.EventRevoke,
		Cause: lifecycle.CauseDeath, Channel: lifecycle.ChannelDesk}); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(t0.Add(100 * time.Hour))
	if _, err := e.svc.Approve(t.Context(), id, supervisor2); err != nil {
		t.Fatal(err)
	}
	e.state(id, storage.IdentityRevoked)
	ev := e.lastAudit("lifecycle.approve", id)
	if ev.Actor != supervisor2.ID || ev.Details["proposer"] != supervisor.ID || ev.Details["approver"] != supervisor2.ID {
		t.Errorf("audit %+v", ev)
	}
	// Holders may ask for their own revocation at the portal, never approve it.
	other := e.identity(2, "")
	if _, err := e.svc.Propose(t.Context(), other, lifecycle.ProposalRequest{Actor: holderOf(other), Event: lifecycle.EventRevoke,
		Cause: lifecycle.CauseHolderRequest, Channel: lifecycle.ChannelPortal}); err != nil {
		t.Fatal(err)
	}
	e.unchanged(other, lifecycle.ErrForbidden, "lifecycle.approve", func() error {
		_, err := e.svc.Approve(t.Context(), other, holderOf(other))
		return err
	})
	// The scheduler alone revokes for inactivity or contract expiry.
	e.unchanged(other, lifecycle.ErrForbidden, "lifecycle.reject_proposal", func() error {
		_, err := e.svc.RejectProposal(t.Context(), other, care)
		return err
	})
	if _, err := e.svc.RejectProposal(t.Context(), other, supervisor); err != nil {
		t.Fatal(err)
	}
	e.unchanged(other, lifecycle.ErrForbidden, "lifecycle.propose", func() error {
		_, err := e.svc.Propose(t.Context(), other, lifecycle.ProposalRequest{Actor: supervisor, Event: lifecycle.EventRevoke,
			Cause: lifecycle.CauseInactivity, Channel: lifecycle.ChannelDesk})
		return err
	})
}

// E085: revoked is final: every event is refused and nothing changes.
func TestE085_RevokedIsFinal(t *testing.T) {
	e := newEnv(t)
	id := e.identity(1, "2030-01-01")
	if _, err := e.svc.Propose(t.Context(), id, lifecycle.ProposalRequest{Actor: care, Event: lifecycle.EventRevoke,
		Cause: lifecycle.CauseDeath, Channel: lifecycle.ChannelDesk}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Approve(t.Context(), id, supervisor); err != nil {
		t.Fatal(err)
	}
	e.state(id, storage.IdentityRevoked)
	ctx := t.Context()
	for name, fn := range map[string]func() error{
		"lifecycle.suspend": func() error {
			_, err := e.svc.Suspend(ctx, id, lifecycle.SuspendRequest{Actor: supervisor, Cause: lifecycle.CauseHolderRequest, Channel: lifecycle.ChannelDesk})
			return err
		},
		"lifecycle.propose": func() error {
			_, err := e.svc.Propose(ctx, id, lifecycle.ProposalRequest{Actor: care, Event: lifecycle.EventReactivate, Channel: lifecycle.ChannelPhone})
			return err
		},
		"lifecycle.renew": func() error {
			e.clock.Set(t0.AddDate(2, 0, 0).Add(-10 * day))
			_, err := e.svc.Renew(ctx, id, holderOf(id))
			return err
		},
		"lifecycle.reactivate": func() error { _, err := e.svc.ReactivateWithDocument(ctx, id, verifier); return err },
	} {
		e.unchanged(id, lifecycle.ErrTransition, name, fn)
	}
	e.unchanged(id, lifecycle.ErrNoProposal, "lifecycle.approve", func() error { _, err := e.svc.Approve(ctx, id, supervisor2); return err })
	// The scheduler leaves it alone too (past valid_until, inactivity).
	e.runAt(t0.AddDate(5, 0, 0))
	e.state(id, storage.IdentityRevoked)
}

// E087: suspension and revocation on the holder's request create no order
// or payment of any kind.
func TestE087_FreeOfCharge(t *testing.T) {
	e := newEnv(t)
	id := e.identity(1, "")
	e.suspendByHolder(id)
	if _, err := e.svc.Propose(t.Context(), id, lifecycle.ProposalRequest{Actor: holderOf(id), Event: lifecycle.EventRevoke,
		Cause: lifecycle.CauseHolderRequest, Channel: lifecycle.ChannelPortal}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Approve(t.Context(), id, supervisor); err != nil {
		t.Fatal(err)
	}
	e.state(id, storage.IdentityRevoked)
	if es, err := e.st.ListEnrolments(t.Context(), nil); err != nil || len(es) != 0 {
		t.Errorf("orders created: %d, %v", len(es), err)
	}
}

// E088: every transition's audit record has the actor, role, cause,
// channel and before → after.
func TestE088_TransitionsAudited(t *testing.T) {
	e := newEnv(t)
	id := e.identity(1, "")
	e.suspendByHolder(id)
	ev := e.lastAudit("lifecycle.suspend", id)
	want := map[string]string{"role": "holder", "cause": "holder_request", "channel": "portal", "from": "active", "to": "suspended"}
	for k, v := range want {
		if ev.Details[k] != v {
			t.Errorf("suspend audit %s = %q, want %q", k, ev.Details[k], v)
		}
	}
	if ev.Actor != id || ev.Outcome != audit.Success {
		t.Errorf("suspend audit actor %q outcome %q", ev.Actor, ev.Outcome)
	}
	if ev := e.lastAudit("lifecycle.notice", id); ev.Details["kind"] != "suspended" {
		t.Errorf("notice audit %+v", ev.Details)
	}
	if res, err := audit.Verify(t.Context(), e.st, 100); err != nil || res.First != nil {
		t.Errorf("audit chain: %+v, %v", res, err)
	}
}

// E091: the expiring flag is set from 90 days before valid_until.
func TestE091_Expiring(t *testing.T) {
	p := lifecycle.DefaultPolicy()
	end := t0.AddDate(2, 0, 0)
	l := storage.IdentityLifecycle{State: storage.IdentityActive, ValidUntil: end}
	if p.Expiring(l, end.Add(-90*day-time.Second)) || !p.Expiring(l, end.Add(-90*day)) || !p.Expiring(l, end.Add(-day)) {
		t.Error("expiring flag not set from exactly 90 days before")
	}
	l.State = storage.IdentitySuspended
	if p.Expiring(l, end.Add(-day)) {
		t.Error("a suspended identity shown as ATTIVO – IN SCADENZA")
	}
}

// A notice that cannot be delivered is not marked sent: the next run
// tries again, and sends it once.
func TestNoticeRetriedAfterFailure(t *testing.T) {
	e := newEnv(t)
	id := e.identity(1, "")
	end := t0.AddDate(2, 0, 0)
	e.sent.fail = errors.New("gateway down")
	e.clock.Set(end.Add(-90 * day))
	rep, err := e.sched.RunOnce(t.Context())
	if err == nil || len(rep.Errors) != 1 {
		t.Fatalf("run with the gateway down: %+v, %v", rep, err)
	}
	e.sent.fail = nil
	e.runAt(end.Add(-89 * day))
	e.runAt(end.Add(-88 * day))
	if k := e.sent.kinds(); !slices.Equal(k, []string{"expiry-90"}) {
		t.Errorf("notices %v", k)
	}
	if ev := e.lastAudit("lifecycle.notice", id); ev.Outcome != audit.Success {
		t.Errorf("last notice audit %+v", ev)
	}
}

// TestRecordAuthCoalesces: logins closer together than AuthResolution leave
// the stored last authentication (and so both rows) as they are; a later
// one moves it, and an older one never does.
func TestRecordAuthCoalesces(t *testing.T) {
	e := newEnv(t)
	id := e.identity(1, "")
	first := t0.Add(day)
	cases := []struct {
		name string
		at   time.Time
		want time.Time
	}{
		{"first login", first, first},
		{"a minute later", first.Add(time.Minute), first},
		{"just within the resolution", first.Add(lifecycle.AuthResolution), first},
		{"older", first.Add(-time.Hour), first},
		{"past the resolution", first.Add(lifecycle.AuthResolution + time.Second), first.Add(lifecycle.AuthResolution + time.Second)},
	}
	for _, tc := range cases {
		if err := e.svc.RecordAuth(t.Context(), id, tc.at); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := e.life(id).LastAuthAt; !got.Equal(tc.want) {
			t.Errorf("%s: last auth %v, want %v", tc.name, got, tc.want)
		}
	}
}

// readCounter counts the lifecycle reads that reach the store.
type readCounter struct {
	lifecycle.Store
	reads int
}

func (c *readCounter) GetLifecycle(ctx context.Context, id string) (storage.IdentityLifecycle, error) {
	c.reads++
	return c.Store.GetLifecycle(ctx, id)
}

// TestRecordAuthReadsOncePerResolution: once a node has recorded (or read)
// an identity's last authentication, later ones within AuthResolution of
// it read nothing; past it, the store is read and written again.
func TestRecordAuthReadsOncePerResolution(t *testing.T) {
	e := newEnv(t)
	id := e.identity(1, "")
	counter := &readCounter{Store: e.st}
	svc := &lifecycle.Service{Store: counter, Audit: e.svc.Audit, Now: e.clock.Now}
	first := t0.Add(day)
	for i, at := range []time.Time{first, first.Add(time.Minute), first.Add(lifecycle.AuthResolution)} {
		if err := svc.RecordAuth(t.Context(), id, at); err != nil {
			t.Fatal(err)
		}
		if want := 1; counter.reads > want {
			t.Fatalf("login %d: %d lifecycle reads, want %d", i+1, counter.reads, want)
		}
	}
	later := first.Add(lifecycle.AuthResolution + time.Second)
	if err := svc.RecordAuth(t.Context(), id, later); err != nil {
		t.Fatal(err)
	}
	if got := e.life(id).LastAuthAt; !got.Equal(later) {
		t.Errorf("last auth %v after a login past the resolution, want %v", got, later)
	}
}
