package enrolment

import (
	"errors"
	"testing"
)

// Every pair of states against the §6.5 table, written out here a second
// time so a slip in either copy shows.
func TestE049TransitionTable(t *testing.T) {
	allowed := map[[2]State]bool{
		{StateDraft, StateAwaitingPayment}: true, {StateDraft, StateAwaitingRecognition}: true,
		{StateDraft, StateCancelled}: true, {StateDraft, StateExpired}: true,
		{StateAwaitingPayment, StateAwaitingRecognition}: true, {StateAwaitingPayment, StateCancelled}: true,
		{StateAwaitingPayment, StateExpired}:                true,
		{StateAwaitingRecognition, StateAwaitingProcessing}: true, {StateAwaitingRecognition, StateAwaitingDocuments}: true,
		{StateAwaitingRecognition, StateCancelled}: true, {StateAwaitingRecognition, StateExpired}: true,
		{StateAwaitingDocuments, StateAwaitingProcessing}: true, {StateAwaitingDocuments, StateRejected}: true,
		{StateAwaitingProcessing, StateApproved}: true, {StateAwaitingProcessing, StateRejected}: true,
		{StateAwaitingProcessing, StateAwaitingDocuments}: true,
		{StateRejected, StateAwaitingProcessing}:          true, {StateRejected, StateAwaitingRecognition}: true,
		{StateRejected, StateClosed}: true,
	}
	n := 0
	for _, from := range States() {
		for _, to := range States() {
			err := Transition(from, to)
			if allowed[[2]State{from, to}] {
				n++
				if err != nil {
					t.Errorf("%s → %s refused: %v", from, to, err)
				}
				continue
			}
			if !errors.Is(err, ErrTransition) {
				t.Errorf("%s → %s: error %v, want ErrTransition", from, to, err)
			}
		}
	}
	if n != len(allowed) {
		t.Errorf("%d allowed transitions checked, table has %d", n, len(allowed))
	}
	for _, s := range []State{StateApproved, StateCancelled, StateExpired, StateClosed} {
		if !s.Terminal() {
			t.Errorf("%s is not terminal", s)
		}
	}
	if err := Transition("bogus", StateDraft); !errors.Is(err, ErrTransition) {
		t.Errorf("unknown state: %v", err)
	}
	if State("bogus").Known() || !StateDraft.Known() {
		t.Error("Known is wrong")
	}
	if StateAwaitingDocuments.Label("it") != "ATTESA DOCUMENTAZIONE" || StateRejected.Label("en") != "REJECTED" {
		t.Error("labels")
	}
}

func TestRolesOfSection2(t *testing.T) {
	for _, tc := range []struct {
		role Role
		act  Action
		ok   bool
	}{
		{RoleShopAgent, ActRecognise, true}, {RoleShopAgent, ActDecide, false}, {RoleShopAgent, ActClaim, false},
		{RoleCounterOperator, ActRecognise, true}, {RoleCounterOperator, ActDecide, false},
		{RoleVideoOperator, ActVideoSession, true}, {RoleVideoOperator, ActDecide, false},
		{RoleVerifier, ActDecide, true}, {RoleVerifier, ActClaim, true}, {RoleVerifier, ActRecognise, false},
		{RoleSupervisor, ActDecide, true}, {RoleSupervisor, ActManageOps, true},
		{RoleCareAgent, ActSuspendCare, true}, {RoleCareAgent, ActDecide, false},
		{RoleAuditor, ActReadAudit, true}, {RoleAuditor, ActDecide, false}, {RoleAuditor, ActRecognise, false},
	} {
		if got := Can([]string{string(tc.role)}, tc.act); got != tc.ok {
			t.Errorf("%s may %s = %v, want %v", tc.role, tc.act, got, tc.ok)
		}
	}
	if _, err := ParseRoles("verifier, nope"); err == nil {
		t.Error("unknown role accepted")
	}
	if _, err := ParseRoles("verifier,verifier"); err == nil {
		t.Error("repeated role accepted")
	}
	if _, err := ParseRoles(" , "); err == nil {
		t.Error("no role accepted")
	}
	if rs, err := ParseRoles("shop_agent,auditor"); err != nil || len(rs) != 2 {
		t.Errorf("ParseRoles = %v, %v", rs, err)
	}
}

func TestCodesAndDates(t *testing.T) {
	seen := map[string]bool{}
	for range 2000 {
		c, err := newCode()
		if err != nil {
			t.Fatal(err)
		}
		if len(c) != 10 || seen[c] {
			t.Fatalf("code %q: wrong length or repeated", c)
		}
		for _, r := range c {
			if r == 'I' || r == 'L' || r == 'O' || r == 'U' {
				t.Fatalf("code %q has a letter Crockford leaves out", c)
			}
		}
		seen[c] = true
	}
	if got := NormaliseCode(" abcde-fghi0 "); got != "ABCDEFGH10" {
		t.Errorf("NormaliseCode = %q", got)
	}
	if got := FormatCode("ABCDEFGH10"); got != "ABCDE-FGH10" {
		t.Errorf("FormatCode = %q", got)
	}
}
