package lifecycle

import (
	"fmt"
	"slices"
)

// Role is who acts (enrolment-lifecycle.md §2). Operators' role names are
// those of package enrolment.
type Role string

const (
	RoleHolder     Role = "holder"
	RoleCareAgent  Role = "care_agent"
	RoleVerifier   Role = "verifier"
	RoleSupervisor Role = "supervisor"
	RoleSystem     Role = "system" // the scheduler
)

// Actor is the person or process behind an action. ID is what the audit
// log records ("operator:anna", an identity ID, "system:scheduler").
type Actor struct {
	ID   string
	Role Role
}

func (a Actor) valid() bool { return a.ID != "" && a.Role != "" }

// Channel is how a request reached the IdP (§8.2).
type Channel string

const (
	ChannelPortal      Channel = "portal"       // the holder at level 2
	ChannelPhone       Channel = "phone"        // customer care, caller verified by OTP
	ChannelPEC         Channel = "pec"          // certified e-mail: the holder's by law
	ChannelSignedEmail Channel = "signed_email" // signed request: the holder's
	ChannelDesk        Channel = "desk"         // back office (verifier, supervisor)
	ChannelCLI         Channel = "cli"          // spid-idp user ...
	ChannelSystem      Channel = "system"       // the scheduler
)

// Cause is why an identity is suspended or revoked (§8.2).
type Cause string

// Suspension causes.
const (
	CauseHolderRequest      Cause = "holder_request" // also a revocation cause
	CauseSuspiciousActivity Cause = "idp_suspicious_activity"
	CauseDocumentExpired    Cause = "document_expired"
	CauseLockoutEscalation  Cause = "lockout_escalation"
)

// Revocation causes.
const (
	CauseIllicitUse          Cause = "illicit_use"
	CauseFraudConfirmed      Cause = "idp_fraud_confirmed"
	CauseDeath               Cause = "death"
	CauseLegalPersonExtinct  Cause = "legal_person_extinct"
	CauseRepresentationEnded Cause = "representation_ended"
	CauseInactivity          Cause = "inactivity"
	CauseContractExpired     Cause = "contract_expired"
)

// causeRule is one row of §8.2.
type causeRule struct {
	// who may start it; RoleSystem alone means the scheduler only.
	who []Role
	// timed: a suspension that ends by itself after SuspensionPeriod
	// (only the holder's request, §8.3).
	timed bool
}

var suspensionCauses = map[Cause]causeRule{
	CauseHolderRequest:      {who: []Role{RoleHolder, RoleCareAgent, RoleVerifier, RoleSupervisor}, timed: true},
	CauseSuspiciousActivity: {who: []Role{RoleVerifier, RoleSupervisor}},
	CauseDocumentExpired:    {who: []Role{RoleSystem, RoleVerifier, RoleSupervisor}},
	CauseLockoutEscalation:  {who: []Role{RoleSystem, RoleVerifier, RoleSupervisor}},
}

// Revocations by people are proposed by one and approved by a different
// supervisor (E.2); the holder may only propose their own request.
var revocationCauses = map[Cause]causeRule{
	CauseHolderRequest:       {who: []Role{RoleHolder, RoleCareAgent, RoleVerifier, RoleSupervisor}},
	CauseIllicitUse:          {who: []Role{RoleCareAgent, RoleVerifier, RoleSupervisor}},
	CauseFraudConfirmed:      {who: []Role{RoleVerifier, RoleSupervisor}},
	CauseDeath:               {who: []Role{RoleCareAgent, RoleVerifier, RoleSupervisor}},
	CauseLegalPersonExtinct:  {who: []Role{RoleCareAgent, RoleVerifier, RoleSupervisor}},
	CauseRepresentationEnded: {who: []Role{RoleCareAgent, RoleVerifier, RoleSupervisor}},
	CauseInactivity:          {who: []Role{RoleSystem}},
	CauseContractExpired:     {who: []Role{RoleSystem}},
}

// SuspensionCauses and RevocationCauses list the causes, for forms and
// command-line help.
func SuspensionCauses() []Cause { return sortedCauses(suspensionCauses) }
func RevocationCauses() []Cause { return sortedCauses(revocationCauses) }

func sortedCauses(m map[Cause]causeRule) []Cause {
	var out []Cause
	for c := range m {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

func checkCause(kind string, rules map[Cause]causeRule, c Cause, a Actor) (causeRule, error) {
	r, ok := rules[c]
	if !ok {
		return r, fmt.Errorf("%w: %q is not a %s cause", ErrInvalid, c, kind)
	}
	if !slices.Contains(r.who, a.Role) {
		return r, fmt.Errorf("%w: a %s cannot start a %s for %s", ErrForbidden, a.Role, kind, c)
	}
	return r, nil
}
