package enrolment

import (
	"fmt"
	"slices"
	"strings"
)

// Role is a back-office role of §2. The applicant is not an operator and
// has no role here.
type Role string

const (
	RoleShopAgent       Role = "shop_agent"
	RoleCounterOperator Role = "counter_operator"
	RoleVideoOperator   Role = "video_operator"
	RoleVerifier        Role = "verifier"
	RoleSupervisor      Role = "supervisor"
	RoleCareAgent       Role = "care_agent"
	RoleAuditor         Role = "auditor"
)

// Roles lists every operator role, in the order of §2.
func Roles() []Role {
	return []Role{RoleShopAgent, RoleCounterOperator, RoleVideoOperator, RoleVerifier, RoleSupervisor, RoleCareAgent, RoleAuditor}
}

// ParseRoles checks a comma-separated list of role names, refusing unknown
// and repeated ones.
func ParseRoles(s string) ([]string, error) {
	var out []string
	for _, r := range strings.Split(s, ",") {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		if !slices.Contains(Roles(), Role(r)) {
			return nil, fmt.Errorf("unknown role %q (roles: %s)", r, roleNames())
		}
		if slices.Contains(out, r) {
			return nil, fmt.Errorf("role %q given twice", r)
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("at least one role is needed (roles: %s)", roleNames())
	}
	return out, nil
}

func roleNames() string {
	var names []string
	for _, r := range Roles() {
		names = append(names, string(r))
	}
	return strings.Join(names, ", ")
}

// Action is something an operator does to a request.
type Action string

const (
	ActRecognise    Action = "recognise"     // record an in-person, video or counter check
	ActClaim        Action = "claim"         // take a queued request for 30 minutes
	ActDecide       Action = "decide"        // approve, reject, ask for documents
	ActManageOps    Action = "manage_ops"    // grant roles
	ActReadAudit    Action = "read_audit"    // audit log, evidence access log, metrics
	ActSuspendCare  Action = "suspend_care"  // suspend on the holder's request
	ActVideoSession Action = "video_session" // run a webcam recognition
)

// permissions is the "may" column of §2. What a role may not do is
// everything else, and the four-eyes rule on top (Service.Approve).
var permissions = map[Role][]Action{
	RoleShopAgent:       {ActRecognise},
	RoleCounterOperator: {ActRecognise},
	RoleVideoOperator:   {ActRecognise, ActVideoSession},
	RoleVerifier:        {ActClaim, ActDecide},
	RoleSupervisor:      {ActClaim, ActDecide, ActManageOps, ActReadAudit},
	RoleCareAgent:       {ActSuspendCare},
	RoleAuditor:         {ActReadAudit},
}

// Can reports whether any of roles permits a.
func Can(roles []string, a Action) bool {
	for _, r := range roles {
		if slices.Contains(permissions[Role(r)], a) {
			return true
		}
	}
	return false
}
