package app

import (
	"crypto/subtle"
	"fmt"

	"github.com/spid-idp/spid-idp/config"
	"github.com/spid-idp/spid-idp/keys/datakey"
)

// UnwrapDataKeys opens security.data_key_wrapped (and
// security.previous_data_key_wrapped) inside the HSM with the AES key
// security.pkcs11.data_key_label, and puts the data keys where every user
// of the data key finds them, in memory only. Without the token it fails:
// the caller stops, since nothing sealed at rest could be opened or
// written. A key already opened is left alone, so calling it twice is
// harmless.
func UnwrapDataKeys(cfg *config.Config) error {
	s := &cfg.Security
	for _, k := range []struct {
		name    string
		wrapped config.Key
		dst     *config.Key
	}{
		{"security.data_key_wrapped", s.DataKeyWrapped, &s.DataKey},
		{"security.previous_data_key_wrapped", s.PreviousDataKeyWrapped, &s.PreviousDataKey},
	} {
		if len(k.wrapped) == 0 || len(*k.dst) > 0 {
			continue
		}
		tok, err := HSMToken(cfg)
		if err != nil {
			return fmt.Errorf("%s: the HSM that wraps it cannot be opened, so the data key is unavailable: %w", k.name, err)
		}
		plain, err := tok.Unwrap(s.PKCS11.DataKeyLabel, k.wrapped)
		if err != nil {
			return fmt.Errorf("%s: the HSM cannot unwrap it with security.pkcs11.data_key_label %q (wrapped with another key, or altered): %w",
				k.name, s.PKCS11.DataKeyLabel, err)
		}
		if len(plain) != datakey.KeySize {
			return fmt.Errorf("%s: unwraps to %d bytes, want a %d-byte data key", k.name, len(plain), datakey.KeySize)
		}
		*k.dst = plain
	}
	if len(s.DataKeyWrapped) > 0 && subtle.ConstantTimeCompare(s.DataKey, cfg.IdP.Session.CookieKey) == 1 {
		return fmt.Errorf("security.data_key_wrapped: the data key must differ from idp.session.cookie_key (each key has one job)")
	}
	if len(s.PreviousDataKey) > 0 && subtle.ConstantTimeCompare(s.PreviousDataKey, s.DataKey) == 1 {
		return fmt.Errorf("security.previous_data_key_wrapped: holds the same data key as security.data_key_wrapped")
	}
	return nil
}
