package federation

import (
	"encoding/json"

	"github.com/go-jose/go-jose/v4"
)

// What a superior's statement about an entity says of one of the entity's
// keys (spec §2.8): a federation key must be in the statement's jwks; a
// core key in the openid_provider.jwks its metadata policy pins, if it
// pins one. A key may sign only once it is carried (or not pinned).
const (
	KeyCarried   = "carried"
	KeyMissing   = "missing"
	KeyNotPinned = "not pinned"
)

// Carried says what es says of the key whose RFC 7638 thumbprint is kid:
// a federation key when core is false, else an openid_provider core key.
// Keys in es are matched by thumbprint, whatever kid the superior wrote.
func Carried(es *Statement, kid string, core bool) string {
	set := es.JWKS
	if core {
		val, ok := es.MetadataPolicy[TypeOpenIDProvider]["jwks"]["value"]
		if !ok {
			return KeyNotPinned
		}
		set = jwksValue(val)
	}
	for _, k := range set.Keys {
		if tp, err := Thumbprint(k.Key); err == nil && tp == kid {
			return KeyCarried
		}
	}
	return KeyMissing
}

// jwksValue reads a JWK set from a decoded JSON value (a policy's value);
// anything unreadable is the empty set.
func jwksValue(v any) (set jose.JSONWebKeySet) {
	b, err := json.Marshal(v)
	if err == nil {
		_ = json.Unmarshal(b, &set)
	}
	return set
}
