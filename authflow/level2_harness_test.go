package authflow

// The level-2 additions to the test harness: the flow rebuilt with second
// factors (a data key, SMS codes through a capturing sender, push approval)
// and devices for the citizen.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"html"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/idp/otp"
	"github.com/spid-idp/spid-idp/idp/push"
	"github.com/spid-idp/spid-idp/internal/capture"
	"github.com/spid-idp/spid-idp/keys/datakey"
	"github.com/spid-idp/spid-idp/notify/sms"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
)

// captureSMS is an SMS sender that keeps the messages for the test.
type captureSMS struct{ capture.Box[sms.Message] }

func (c *captureSMS) count() int { return c.Len() }

var smsCodeRE = regexp.MustCompile(`#(\d{6})\s*$`)

// last returns the code of the newest message and how many were sent.
func (c *captureSMS) last(t testing.TB) (to, code string, n int) {
	t.Helper()
	all := c.All()
	if len(all) == 0 {
		t.Fatal("no SMS sent")
	}
	m := all[len(all)-1]
	sub := smsCodeRE.FindStringSubmatch(m.Text)
	if sub == nil {
		t.Fatalf("no code in SMS %q", m.Text)
	}
	return m.To, sub[1], len(all)
}

type l2harness struct {
	*harness
	Sealer *datakey.Sealer
	SMS    *captureSMS
	Push   *push.Service
}

// newL2Harness is newHarness with level 2 configured.
func newL2Harness(t testing.TB) *l2harness {
	t.Helper()
	h := newHarness(t)
	key, err := datakey.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := datakey.New(key)
	if err != nil {
		t.Fatal(err)
	}
	capture := &captureSMS{}
	u, _ := url.Parse(h.Base)
	l := &l2harness{harness: h, Sealer: sealer, SMS: capture}
	l.Push = &push.Service{Values: h.Eph, Devices: h.Store, Sealer: sealer, Audit: &audit.Logger{Store: h.Store, Now: h.Clock.Now}, Now: h.Clock.Now}
	o := h.Flow.o
	o.Level2 = Level2{
		Sealer: sealer,
		SMS:    &otp.SMSCodes{Values: h.Eph, Sender: capture, Host: u.Host, Now: h.Clock.Now, Counters: h.Eph},
		Push:   l.Push,
		Issuer: "IdP di prova",
	}
	h.rebuild(o)
	return l
}

const citizenID = "demo-citizen"

var devSeq struct {
	sync.Mutex
	n int
}

func nextDeviceID() string {
	devSeq.Lock()
	defer devSeq.Unlock()
	devSeq.n++
	return fmt.Sprintf("dev-%d", devSeq.n)
}

// addDevice stores a device of identityID with a fresh sealed seed.
func (h *l2harness) addDevice(identityID string, kind storage.DeviceKind, status storage.DeviceStatus) (string, []byte) {
	h.t.Helper()
	seed, err := otp.NewSeed()
	if err != nil {
		h.t.Fatal(err)
	}
	id := nextDeviceID()
	sealed, err := h.Sealer.Seal(seed, push.SeedAD(identityID, id))
	if err != nil {
		h.t.Fatal(err)
	}
	now := h.Clock.Now()
	d := storage.Device{ID: id, IdentityID: identityID, Name: "Telefono " + id, Kind: kind, Status: status,
		Secret: sealed, CreatedAt: now, UpdatedAt: now}
	if err := h.Store.CreateDevice(context.Background(), d); err != nil {
		h.t.Fatal(err)
	}
	return id, seed
}

// addPushDevice stores an active push device and returns its key.
func (h *l2harness) addPushDevice(identityID string) (string, []byte, *ecdsa.PrivateKey) {
	h.t.Helper()
	id, seed := h.addDevice(identityID, storage.DevicePush, storage.DeviceActive)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		h.t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	sealed, err := h.Sealer.Seal(der, push.PublicKeyAD(identityID, id))
	if err != nil {
		h.t.Fatal(err)
	}
	err = h.Store.UpdateDevice(context.Background(), id, func(d storage.Device) (storage.Device, error) {
		d.PublicKey = sealed
		return d, nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return id, seed, key
}

// decide answers a challenge from the app of device devID.
func (h *l2harness) decide(devID string, key *ecdsa.PrivateKey, challengeID string, approve bool, number int) error {
	decision := push.DecisionDeny
	if approve {
		decision = push.DecisionApprove
	}
	sum := sha256.Sum256(push.DecisionMessage(challengeID, decision, number))
	sig, err := ecdsa.SignASN1(rand.Reader, key, sum[:])
	if err != nil {
		h.t.Fatal(err)
	}
	return h.Push.Decide(context.Background(), devID, challengeID, approve, number, sig)
}

func (h *l2harness) device(id string) storage.Device {
	h.t.Helper()
	d, err := h.Store.GetDevice(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return d
}

// code is the app's current code for seed.
func (h *l2harness) code(seed []byte) string { return otp.Code(seed, h.Clock.Now()) }

// startL2 starts a SpidL<level> flow of rp and sends the citizen's
// password; it returns the page after the password.
func (b *browser) startL2(rp *testRP, level int) page {
	b.t.Helper()
	p := b.start(rp, level)
	if !strings.Contains(p.Body, `name="password"`) {
		b.t.Fatalf("no credentials page for a SpidL%d request (status %d):\n%s", level, p.Status, p.Body)
	}
	return b.Submit(p, PathLogin, url.Values{templates.FieldUsername: {b.h.Username}, templates.FieldPassword: {b.h.Password},
		templates.FieldOp: {templates.OpSubmit}})
}

var (
	pushNumberRE = regexp.MustCompile(`<span aria-hidden="true">(\d+)</span>`)
	secretRE     = regexp.MustCompile(`<code>([A-Z2-7]+)</code>`)
	pollRE       = regexp.MustCompile(`data-push-poll="([^"]+)"`)
)

func pushNumber(t testing.TB, p page) int {
	t.Helper()
	m := pushNumberRE.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no push number on the page (status %d):\n%s", p.Status, p.Body)
	}
	var n int
	fmt.Sscan(m[1], &n)
	return n
}

func pollURL(t testing.TB, h *harness, p page) string {
	t.Helper()
	m := pollRE.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no poll URL on the page:\n%s", p.Body)
	}
	return h.Base + html.UnescapeString(m[1])
}

// pendingChallenge returns the one challenge of device devID waiting for
// an answer.
func (h *l2harness) pendingChallenge(devID string) push.Challenge {
	h.t.Helper()
	cs, err := h.Push.Pending(context.Background(), devID)
	if err != nil || len(cs) != 1 {
		h.t.Fatalf("pending challenges of %s: %v, %v", devID, cs, err)
	}
	return cs[0]
}

// auditActions lists the audit log's actions with their outcome.
func (h *l2harness) auditActions() []string {
	h.t.Helper()
	evs, err := h.Store.ListAudit(context.Background(), 0, 10000)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.Action+":"+e.Outcome)
	}
	return out
}
