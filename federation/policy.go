package federation

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
)

// Policy is one entity type's metadata policy: claim → operator → value.
type Policy map[string]map[string]any

// The operators SPID uses (spec §2.5), in the order they are applied.
var operatorOrder = []string{"value", "add", "default", "one_of", "subset_of", "superset_of", "essential"}

// PolicyError is a policy that cannot be merged or metadata that violates
// it: the chain fails.
type PolicyError struct{ Claim, Operator, Reason string }

func (e *PolicyError) Error() string {
	return fmt.Sprintf("federation: metadata policy: %s (%s): %s", e.Claim, e.Operator, e.Reason)
}

func policyErr(claim, op, format string, args ...any) error {
	return &PolicyError{Claim: claim, Operator: op, Reason: fmt.Sprintf(format, args...)}
}

// MergePolicies combines the policies of a chain, the trust anchor's first.
// A subordinate may only narrow what its superior allows: contradicting
// value or default, or one_of/subset_of with nothing in common, fail.
func MergePolicies(policies ...Policy) (Policy, error) {
	out := Policy{}
	for _, p := range policies {
		for claim, ops := range p {
			cur := out[claim]
			if cur == nil {
				cur = map[string]any{}
				out[claim] = cur
			}
			for op, v := range ops {
				if !slices.Contains(operatorOrder, op) {
					// Unknown operators are not critical in SPID (no
					// policy_language_crit): ignored.
					continue
				}
				old, had := cur[op]
				if !had {
					cur[op] = v
					continue
				}
				merged, err := mergeOperator(claim, op, old, v)
				if err != nil {
					return nil, err
				}
				cur[op] = merged
			}
			if err := checkCombination(claim, cur); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func mergeOperator(claim, op string, sup, sub any) (any, error) {
	switch op {
	case "value", "default":
		if !equalJSON(sup, sub) {
			return nil, policyErr(claim, op, "superior and subordinate set different values")
		}
		return sup, nil
	case "add", "superset_of":
		return union(asList(sup), asList(sub)), nil
	case "one_of", "subset_of":
		in := intersect(asList(sup), asList(sub))
		if len(in) == 0 {
			return nil, policyErr(claim, op, "superior and subordinate have no value in common")
		}
		return in, nil
	case "essential":
		a, _ := sup.(bool)
		b, _ := sub.(bool)
		return a || b, nil // a superior's true cannot be relaxed
	}
	return sup, nil
}

// checkCombination refuses operator sets that can never be satisfied.
func checkCombination(claim string, ops map[string]any) error {
	v, hasValue := ops["value"]
	if hasValue && v != nil {
		if oneOf, ok := ops["one_of"]; ok && !containsJSON(asList(oneOf), v) {
			return policyErr(claim, "value", "not among one_of")
		}
		if sub, ok := ops["subset_of"]; ok && !isSubset(asList(v), asList(sub)) {
			return policyErr(claim, "value", "not within subset_of")
		}
		if sup, ok := ops["superset_of"]; ok && !isSubset(asList(sup), asList(v)) {
			return policyErr(claim, "value", "does not contain superset_of")
		}
	}
	if add, ok := ops["add"]; ok {
		if sub, ok := ops["subset_of"]; ok && !isSubset(asList(add), asList(sub)) {
			return policyErr(claim, "add", "adds values outside subset_of")
		}
	}
	return nil
}

// ApplyPolicy returns metadata after the policy: a copy, the input is left
// alone. Operators run in the order of the spec; a violated one_of,
// superset_of or essential is an error.
func ApplyPolicy(metadata map[string]any, p Policy) (map[string]any, error) {
	out := make(map[string]any, len(metadata))
	for k, v := range metadata {
		out[k] = v
	}
	claims := make([]string, 0, len(p))
	for c := range p {
		claims = append(claims, c)
	}
	sort.Strings(claims) // deterministic error for deterministic input
	for _, claim := range claims {
		ops := p[claim]
		for _, op := range operatorOrder {
			arg, ok := ops[op]
			if !ok {
				continue
			}
			cur, present := out[claim]
			switch op {
			case "value":
				if arg == nil {
					delete(out, claim)
				} else {
					out[claim] = arg
				}
			case "add":
				out[claim] = union(asList(cur), asList(arg))
			case "default":
				if !present || cur == nil {
					out[claim] = arg
				}
			case "one_of":
				if present && !containsJSON(asList(arg), cur) {
					return nil, policyErr(claim, op, "value not among those allowed")
				}
			case "subset_of":
				if present {
					in := intersect(asList(cur), asList(arg))
					if len(in) == 0 {
						delete(out, claim)
					} else {
						out[claim] = in
					}
				}
			case "superset_of":
				if present && !isSubset(asList(arg), asList(cur)) {
					return nil, policyErr(claim, op, "does not contain every required value")
				}
			case "essential":
				if b, _ := arg.(bool); b {
					if _, ok := out[claim]; !ok {
						return nil, policyErr(claim, op, "required claim missing")
					}
				}
			}
		}
	}
	return out, nil
}

// asList reads a JSON value as a list; a scalar is a list of one.
func asList(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	default:
		return []any{v}
	}
}

func union(a, b []any) []any {
	out := append([]any{}, a...)
	for _, x := range b {
		if !containsJSON(out, x) {
			out = append(out, x)
		}
	}
	return out
}

func intersect(a, b []any) []any {
	var out []any
	for _, x := range a {
		if containsJSON(b, x) && !containsJSON(out, x) {
			out = append(out, x)
		}
	}
	return out
}

func isSubset(a, b []any) bool {
	for _, x := range a {
		if !containsJSON(b, x) {
			return false
		}
	}
	return true
}

func containsJSON(list []any, v any) bool {
	for _, x := range list {
		if equalJSON(x, v) {
			return true
		}
	}
	return false
}

// equalJSON compares two decoded JSON values (numbers may be float64 or
// int depending on where they came from).
func equalJSON(a, b any) bool {
	if reflect.DeepEqual(a, b) {
		return true
	}
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}
