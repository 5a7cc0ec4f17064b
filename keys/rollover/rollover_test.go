package rollover

import (
	"errors"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/keys"
)

func TestPlanScheduleCancel(t *testing.T) {
	gen := func(cn string) keys.Pair {
		p, err := keys.Generate(keys.GenerateOptions{Bits: 2048, CommonName: cn, Locality: "Roma",
			OrganizationIdentifier: "VATIT-12345678901", OrganizationName: "Prova", EntityID: "https://idp.example.it",
			ValidFor: 365 * 24 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	cur, next, third := gen("a"), gen("b"), gen("c")
	now := time.Now()
	switchAt, overlap := now.Add(72*time.Hour), 24*time.Hour
	set, err := Plan(nil, cur.Cert, NewKey{Cert: next.Cert, Private: []byte{1}}, now, switchAt, overlap)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		at    time.Time
		state map[string]State
	}{
		{now, map[string]State{ID(cur.Cert): Active, ID(next.Cert): Next}},
		{switchAt.Add(-time.Nanosecond), map[string]State{ID(cur.Cert): Active, ID(next.Cert): Next}},
		{switchAt, map[string]State{ID(cur.Cert): Previous, ID(next.Cert): Active}},
		{switchAt.Add(overlap), map[string]State{ID(cur.Cert): Retired, ID(next.Cert): Active}},
	} {
		sts, _, ok := Schedule(set, c.at)
		if !ok {
			t.Fatalf("at %v no active key", c.at)
		}
		for _, s := range sts {
			if s.State != c.state[s.Key.ID] {
				t.Errorf("at +%v key %s is %s, want %s", c.at.Sub(now), s.Key.ID[:8], s.State, c.state[s.Key.ID])
			}
			if pub := s.Published(c.at); pub != (s.State != Retired) {
				t.Errorf("at +%v key %s (%s) published=%v", c.at.Sub(now), s.Key.ID[:8], s.State, pub)
			}
		}
	}
	for name, f := range map[string]func() error{
		"while pending": func() error {
			_, err := Plan(set, cur.Cert, NewKey{Cert: third.Cert, HSMLabel: "x"}, now, switchAt, overlap)
			if !errors.Is(err, ErrPending) {
				return errors.New("not ErrPending")
			}
			return nil
		},
		"switch in the past": func() error {
			_, err := Plan(nil, cur.Cert, NewKey{Cert: next.Cert, Private: []byte{1}}, now, now.Add(-time.Second), overlap)
			if err == nil {
				return errors.New("accepted")
			}
			return nil
		},
		"neither sealed nor in the HSM": func() error {
			_, err := Plan(nil, cur.Cert, NewKey{Cert: next.Cert}, now, switchAt, overlap)
			if err == nil {
				return errors.New("accepted")
			}
			return nil
		},
		"expires before the rollover ends": func() error {
			_, err := Plan(nil, cur.Cert, NewKey{Cert: next.Cert, Private: []byte{1}}, now, now.Add(400*24*time.Hour), overlap)
			if err == nil {
				return errors.New("accepted")
			}
			return nil
		},
	} {
		if err := f(); err != nil {
			t.Errorf("Plan %s: %v", name, err)
		}
	}
	// After the switch the next rollover starts from the new key.
	set2, err := Plan(set, cur.Cert, NewKey{Cert: third.Cert, HSMLabel: "c"}, switchAt.Add(overlap+time.Hour),
		switchAt.Add(100*time.Hour), overlap)
	if err != nil {
		t.Fatal(err)
	}
	sts, _, _ := Schedule(set2, switchAt.Add(overlap+2*time.Hour))
	if sts[1].State != Active || sts[1].Key.RetireAt.IsZero() || sts[2].State != Next || len(sts[0].Key.Private) != 0 {
		t.Errorf("second plan: %+v", sts)
	}

	left, removed, err := Cancel(set, now)
	if err != nil || removed.ID != ID(next.Cert) || len(left) != 1 || !left[0].RetireAt.IsZero() {
		t.Errorf("Cancel = %+v, %s, %v; want the configured key alone with no retirement", left, removed.ID, err)
	}
	if _, _, err := Cancel(set, switchAt); err == nil {
		t.Error("Cancel after the switch succeeded")
	}
}
