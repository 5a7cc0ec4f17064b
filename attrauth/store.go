package attrauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spid-idp/spid-idp/storage"
)

// Record is what is kept of an issued grant token (spec §9.4): enough to
// introspect and revoke it, never the token itself. Grant tokens live
// minutes, so they are kept in the shared short-lived store (Redis in a
// cluster) under the SHA-256 of the JWE, until they expire.
type Record struct {
	JTI     string `json:"jti"`
	Issuer  string `json:"iss"`
	AA      string `json:"aud"`
	Actor   string `json:"act"`
	Subject string `json:"sub"`
	Expires int64  `json:"exp"`
	Revoked bool   `json:"rev,omitempty"`
}

// Grants keeps issued grant tokens.
type Grants struct {
	Eph storage.Values
	Now func() time.Time
}

func (g *Grants) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}

func grantKey(jwe string) string { return "aagrant:" + Digest(jwe) }

// Save records a minted token.
func (g *Grants) Save(ctx context.Context, issuer string, aa AA, actor string, m Minted) error {
	b, err := json.Marshal(Record{JTI: m.JTI, Issuer: issuer, AA: aa.ID, Actor: actor, Subject: m.Subject, Expires: m.Expires.Unix()})
	if err != nil {
		return fmt.Errorf("attrauth: encoding grant record: %w", err)
	}
	if err := g.Eph.CreateValue(ctx, grantKey(m.JWE), b, m.Expires); err != nil {
		return fmt.Errorf("attrauth: saving grant record: %w", err)
	}
	return nil
}

// Active returns the record of a grant token that is unexpired, not
// revoked and was issued to actor (A038, A039); ok false otherwise.
func (g *Grants) Active(ctx context.Context, jwe, actor string) (Record, bool, error) {
	b, _, err := g.Eph.GetValue(ctx, grantKey(jwe))
	if errors.Is(err, storage.ErrNotFound) {
		return Record{}, false, nil
	}
	if err != nil {
		return Record{}, false, fmt.Errorf("attrauth: reading grant record: %w", err)
	}
	var rec Record
	if err := json.Unmarshal(b, &rec); err != nil {
		return Record{}, false, fmt.Errorf("attrauth: grant record: %w", err)
	}
	if rec.Revoked || rec.Actor != actor || !g.now().Before(time.Unix(rec.Expires, 0)) {
		return rec, false, nil
	}
	return rec, true, nil
}

// Revoke makes a grant token inactive when actor received it (A040);
// found is false for an unknown, expired or someone else's token.
func (g *Grants) Revoke(ctx context.Context, jwe, actor string) (found bool, err error) {
	err = g.Eph.UpdateValue(ctx, grantKey(jwe), func(b []byte) ([]byte, error) {
		var rec Record
		if err := json.Unmarshal(b, &rec); err != nil {
			return nil, err
		}
		if rec.Actor != actor {
			return nil, errNotYours
		}
		rec.Revoked = true
		return json.Marshal(rec)
	})
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, errNotYours):
		return false, nil
	default:
		return false, fmt.Errorf("attrauth: revoking grant: %w", err)
	}
}

var errNotYours = errors.New("grant issued to another party")
