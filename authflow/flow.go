package authflow

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/spid-idp/spid-idp/idp/spid"
)

// State is a login transaction: the validated AuthnRequest and, once
// the citizen has authenticated, who they are. It travels encrypted and
// authenticated in a hidden form field, so any node can continue a flow and
// nothing is stored until a Response is sent. What must not be rolled back
// by replaying an older copy lives server-side: failure counters and the
// single-use mark of a completed flow (both in storage.Ephemeral).
type State struct {
	ID      string `json:"i"`
	Browser string `json:"b"` // the browser cookie the flow is bound to
	Created int64  `json:"c"` // unix ms when the AuthnRequest arrived

	SP                  string `json:"sp"`
	RequestID           string `json:"rid"`
	RequestIssueInstant int64  `json:"rii"` // unix ms
	ACS                 string `json:"acs"`
	AttrIndex           *int   `json:"ai,omitempty"`
	Level               int    `json:"l"`
	Comparison          string `json:"cmp"`
	ForceAuthn          bool   `json:"fa,omitempty"`
	Purpose             string `json:"pu,omitempty"`
	RelayState          string `json:"rs,omitempty"`

	// Set once the citizen is authenticated.
	Identity     string `json:"id,omitempty"`
	Performed    int    `json:"pl,omitempty"`
	AuthnInstant int64  `json:"ain,omitempty"` // unix ms
	// Session is the SSO session reused for this flow (L1 only), if any.
	Session string `json:"s,omitempty"`
	// Epoch is the identity's SessionEpoch read before the credentials
	// were checked (or the reused session's): consent refuses the flow and
	// a new session is void if the identity's sessions were ended since.
	Epoch int64 `json:"ep,omitempty"`

	// The step reached ("" or "password", "second", "activate", "consent",
	// "aa") and the level-2 device / push challenge in use.
	Step      string `json:"st,omitempty"`
	Device    string `json:"dv,omitempty"`
	Challenge string `json:"ch,omitempty"`

	// Attribute Authorities (aa.go): the registry AAs the request named,
	// those chosen, and whether their consent page was shown.
	AAs       []string `json:"aa,omitempty"`
	AAChosen  []string `json:"aac,omitempty"`
	AAConfirm bool     `json:"aak,omitempty"`

	// Proto is the front end that started the flow and answers it:
	// storage.ProtocolSAML ("") or storage.ProtocolOIDC. SP is then the
	// SP's entityID or the RP's client_id, RequestID the front end's
	// handle of the request.
	Proto string `json:"pr,omitempty"`
	// RPName and RPAttrs describe a relying party the registry does not
	// know (OIDC): its name and the attributes to release.
	RPName  string   `json:"xn,omitempty"`
	RPAttrs []string `json:"xa,omitempty"`
	// RPNames are its name in the pages' languages, when its metadata
	// has them (organization_name#en); RPName is the fallback.
	RPNames map[string]string `json:"xl,omitempty"`
	// Offline: the consent page offers the long revocable session opt-in
	// (OIDC offline_access); OfflineGranted: the citizen ticked it.
	Offline        bool `json:"xo,omitempty"`
	OfflineGranted bool `json:"xg,omitempty"`
}

// Flow steps.
const (
	stepPassword = "password"
	stepSecond   = "second"
	stepActivate = "activate"
	stepConsent  = "consent"
	// stepAA: P05 accepted, the AA choice or consent is on screen (aa.go).
	stepAA = "aa"
)

func (f *State) created() time.Time { return time.UnixMilli(f.Created).UTC() }

// authenticated reports whether the citizen completed every factor the
// request needs: only then may the flow reach consent. Identity alone is
// set as soon as the password is right, before a second factor.
func (f *State) authenticated() bool { return f.Identity != "" && f.Performed > 0 }

// JoinsSession reports whether the answer to this flow joins (or opens)
// the SpidL1 single sign-on session: only a SpidL1 request answered at
// SpidL1 does, whatever the protocol (spec §6.1, §7.1; oidc-federation.md
// §3.5).
func (f *State) JoinsSession() bool {
	return spid.Level(f.Level) == spid.L1 && spid.Level(f.Performed) == spid.L1
}

// AuthnTime is when the citizen authenticated (or the reused session did).
func (f *State) AuthnTime() time.Time { return time.UnixMilli(f.AuthnInstant).UTC() }

// Actor names who an audit event of this flow is about: the identity once
// the password was right, "anonymous" before.
func (f *State) Actor() string {
	if f.Identity == "" {
		return "anonymous"
	}
	return f.Identity
}

// flowCodec seals flow states. Keys are derived from the configured cookie
// key(s); the first seals, all open, so the cookie key can rotate.
type flowCodec struct {
	codecs []securecookie.Codec
}

const flowName = "spid-flow"

// derive makes an independent key for one purpose from a master key.
func derive(master []byte, purpose string) []byte {
	m := hmac.New(sha256.New, master)
	m.Write([]byte("spid-idp/" + purpose))
	return m.Sum(nil)
}

func newFlowCodec(maxAge time.Duration, masters ...[]byte) (*flowCodec, error) {
	if len(masters) == 0 {
		return nil, errors.New("idp: no cookie key")
	}
	c := &flowCodec{}
	for _, k := range masters {
		if len(k) < 32 {
			return nil, fmt.Errorf("idp: cookie key is %d bytes, want at least 32", len(k))
		}
		sc := securecookie.New(derive(k, "flow-mac"), derive(k, "flow-enc"))
		sc.MaxAge(int(maxAge / time.Second))
		sc.MaxLength(16 << 10)
		sc.SetSerializer(securecookie.JSONEncoder{})
		c.codecs = append(c.codecs, sc)
	}
	return c, nil
}

func (c *flowCodec) seal(f *State) (string, error) {
	s, err := c.codecs[0].(*securecookie.SecureCookie).Encode(flowName, f)
	if err != nil {
		return "", fmt.Errorf("idp: sealing flow: %w", err)
	}
	return s, nil
}

// open returns the flow in value; any tampering, an unknown key or an
// expired seal is an error.
func (c *flowCodec) open(value string) (*State, error) {
	var f State
	if err := securecookie.DecodeMulti(flowName, value, &f, c.codecs...); err != nil {
		return nil, fmt.Errorf("idp: flow token invalid or expired: %w", err)
	}
	if f.ID == "" || f.SP == "" {
		return nil, errors.New("idp: flow token incomplete")
	}
	return &f, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		// crypto/rand never fails on supported platforms; a zero ID would be
		// worse than stopping.
		panic("idp: crypto/rand: " + err.Error())
	}
	return hex.EncodeToString(b)
}
