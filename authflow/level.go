package authflow

import "github.com/spid-idp/spid-idp/idp/spid"

// LevelPolicy is the range of SPID levels the IdP may authenticate at, and
// assert, for one request (spec §3.5). This IdP has L1 and L2 credentials
// only.
type LevelPolicy struct {
	Min, Max spid.Level
}

// Allows reports whether an authentication performed at level l may answer
// the request; the Assertion then states l itself.
func (p LevelPolicy) Allows(l spid.Level) bool { return l >= p.Min && l <= p.Max }

// SSOAllowed reports whether an existing SpidL1 session may answer the
// request without a new login: only L1 may be reused, never with ForceAuthn
// (spec §3.5, §7.1).
func (p LevelPolicy) SSOAllowed(forceAuthn bool) bool {
	return !forceAuthn && p.Allows(spid.L1)
}

// Levels applies the table of spec §3.5 to a requested level and
// Comparison. When nothing this IdP can perform satisfies the request, ok
// is false and anomaly says why: nr20 when only SpidL3 would do (there is
// no L3 credential), nr12 for "better than SpidL3" or a level outside 1–3,
// nr08 for a Comparison outside the SAML enumeration.
func Levels(requested spid.Level, comparison string) (p LevelPolicy, anomaly spid.Anomaly, ok bool) {
	if comparison == "" {
		comparison = spid.ComparisonExact
	}
	switch comparison {
	case spid.ComparisonExact, spid.ComparisonMinimum, spid.ComparisonBetter, spid.ComparisonMaximum:
	default:
		return LevelPolicy{}, spid.NrNotCompliant, false
	}
	switch requested {
	case spid.L1:
		switch comparison {
		case spid.ComparisonBetter:
			return LevelPolicy{spid.L2, spid.L2}, 0, true
		case spid.ComparisonMaximum:
			return LevelPolicy{spid.L1, spid.L1}, 0, true
		}
		// exact: L1, or L2 when the user chose the stronger method;
		// minimum: either, as performed.
		return LevelPolicy{spid.L1, spid.L2}, 0, true
	case spid.L2:
		if comparison == spid.ComparisonBetter {
			return LevelPolicy{}, spid.NrLevelUnavailable, false
		}
		return LevelPolicy{spid.L2, spid.L2}, 0, true
	case spid.L3:
		switch comparison {
		case spid.ComparisonBetter:
			return LevelPolicy{}, spid.NrAuthnContext, false
		case spid.ComparisonMaximum:
			// SAML "maximum" allows less than L3; some SPs (io-spid-commons)
			// will still refuse an L2 answer.
			return LevelPolicy{spid.L2, spid.L2}, 0, true
		}
		return LevelPolicy{}, spid.NrLevelUnavailable, false
	}
	return LevelPolicy{}, spid.NrAuthnContext, false
}

// DeliveredLevel returns the level to assert when the user authenticated
// at performed for a request of (requested, comparison): performed itself
// when the policy allows it. Otherwise ok is false and anomaly is the
// error to answer (nr20 when the performed level is too low or the request
// cannot be met at all, nr12/nr08 as in Levels).
func DeliveredLevel(requested spid.Level, comparison string, performed spid.Level) (spid.Level, spid.Anomaly, bool) {
	p, a, ok := Levels(requested, comparison)
	if !ok {
		return 0, a, false
	}
	if !p.Allows(performed) {
		return 0, spid.NrLevelUnavailable, false
	}
	return performed, 0, true
}
