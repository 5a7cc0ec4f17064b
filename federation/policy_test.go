package federation

import (
	"errors"
	"reflect"
	"testing"
)

func TestF023_ApplyOperators(t *testing.T) {
	md := map[string]any{
		"grant_types":                []any{"authorization_code", "refresh_token", "implicit"},
		"token_endpoint_auth_method": "private_key_jwt",
		"contacts":                   []any{"a@example.it"},
	}
	cases := []struct {
		name   string
		policy Policy
		claim  string
		want   any // nil with wantErr false: claim removed
		gone   bool
		err    bool
	}{
		{"F023 value forces", Policy{"token_endpoint_auth_method": {"value": "private_key_jwt"}}, "token_endpoint_auth_method", "private_key_jwt", false, false},
		{"F023 value replaces", Policy{"client_name": {"value": "Forced"}}, "client_name", "Forced", false, false},
		{"F023 value null removes", Policy{"contacts": {"value": nil}}, "contacts", nil, true, false},
		{"F023 add unions", Policy{"contacts": {"add": []any{"b@example.it", "a@example.it"}}}, "contacts", []any{"a@example.it", "b@example.it"}, false, false},
		{"F023 default when absent", Policy{"id_token_signed_response_alg": {"default": "RS256"}}, "id_token_signed_response_alg", "RS256", false, false},
		{"F023 default leaves present", Policy{"token_endpoint_auth_method": {"default": "other"}}, "token_endpoint_auth_method", "private_key_jwt", false, false},
		{"F023 one_of accepts", Policy{"token_endpoint_auth_method": {"one_of": []any{"private_key_jwt"}}}, "token_endpoint_auth_method", "private_key_jwt", false, false},
		{"F023 one_of violation", Policy{"token_endpoint_auth_method": {"one_of": []any{"client_secret_basic"}}}, "", nil, false, true},
		{"F023 subset_of intersects", Policy{"grant_types": {"subset_of": []any{"authorization_code", "refresh_token"}}}, "grant_types", []any{"authorization_code", "refresh_token"}, false, false},
		{"F023 subset_of empty removes", Policy{"grant_types": {"subset_of": []any{"password"}}}, "grant_types", nil, true, false},
		{"F023 superset_of accepts", Policy{"grant_types": {"superset_of": []any{"authorization_code"}}}, "grant_types", md["grant_types"], false, false},
		{"F023 superset_of violation", Policy{"grant_types": {"superset_of": []any{"client_credentials"}}}, "", nil, false, true},
		{"F023 essential present", Policy{"contacts": {"essential": true}}, "contacts", md["contacts"], false, false},
		{"F023 essential violation", Policy{"redirect_uris": {"essential": true}}, "", nil, false, true},
		{"F023 essential false tolerates absence", Policy{"redirect_uris": {"essential": false}}, "redirect_uris", nil, true, false},
		{"F023 subset_of then essential violation", Policy{"grant_types": {"subset_of": []any{"password"}, "essential": true}}, "", nil, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := ApplyPolicy(md, tc.policy)
			if tc.err {
				var pe *PolicyError
				if !errors.As(err, &pe) {
					t.Fatalf("err %v, want a PolicyError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, ok := out[tc.claim]
			if tc.gone {
				if ok {
					t.Fatalf("%s still present: %v", tc.claim, got)
				}
				return
			}
			if !equalJSON(got, tc.want) {
				t.Fatalf("%s = %v, want %v", tc.claim, got, tc.want)
			}
		})
	}
	if len(md["grant_types"].([]any)) != 3 {
		t.Fatal("ApplyPolicy changed its input")
	}
}

func TestF023_MergeOperators(t *testing.T) {
	cases := []struct {
		name     string
		sup, sub Policy
		op       string
		want     any
		err      bool
	}{
		{"F023 merge value equal", Policy{"a": {"value": "x"}}, Policy{"a": {"value": "x"}}, "value", "x", false},
		{"F023 merge value conflict", Policy{"a": {"value": "x"}}, Policy{"a": {"value": "y"}}, "", nil, true},
		{"F023 merge default conflict", Policy{"a": {"default": "x"}}, Policy{"a": {"default": "y"}}, "", nil, true},
		{"F023 merge add union", Policy{"a": {"add": []any{"x"}}}, Policy{"a": {"add": []any{"y"}}}, "add", []any{"x", "y"}, false},
		{"F023 merge one_of intersection", Policy{"a": {"one_of": []any{"x", "y"}}}, Policy{"a": {"one_of": []any{"y", "z"}}}, "one_of", []any{"y"}, false},
		{"F023 merge one_of disjoint", Policy{"a": {"one_of": []any{"x"}}}, Policy{"a": {"one_of": []any{"z"}}}, "", nil, true},
		{"F023 merge subset_of intersection", Policy{"a": {"subset_of": []any{"x", "y"}}}, Policy{"a": {"subset_of": []any{"y"}}}, "subset_of", []any{"y"}, false},
		{"F023 merge superset_of union", Policy{"a": {"superset_of": []any{"x"}}}, Policy{"a": {"superset_of": []any{"y"}}}, "superset_of", []any{"x", "y"}, false},
		{"F023 merge essential cannot be relaxed", Policy{"a": {"essential": true}}, Policy{"a": {"essential": false}}, "essential", true, false},
		{"F023 merge value outside one_of", Policy{"a": {"one_of": []any{"x"}}}, Policy{"a": {"value": "y"}}, "", nil, true},
		{"F023 merge add outside subset_of", Policy{"a": {"subset_of": []any{"x"}}}, Policy{"a": {"add": []any{"y"}}}, "", nil, true},
		{"F023 unknown operator ignored", Policy{"a": {"regexp": "x"}}, nil, "regexp", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MergePolicies(tc.sup, tc.sub)
			if tc.err {
				if err == nil {
					t.Fatalf("merged to %v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			v, ok := got["a"][tc.op]
			if tc.want == nil {
				if ok {
					t.Fatalf("%s kept: %v", tc.op, v)
				}
				return
			}
			if !reflect.DeepEqual(v, tc.want) {
				t.Fatalf("%s = %#v, want %#v", tc.op, v, tc.want)
			}
		})
	}
}
