package opfactor_test

import (
	"bytes"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/idp/otp"
	"github.com/spid-idp/spid-idp/internal/testclock"
	"github.com/spid-idp/spid-idp/keys/datakey"
	"github.com/spid-idp/spid-idp/opfactor"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/storage/sqlite"
)

var t0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

func newService(t *testing.T) (*opfactor.Service, storage.Store, *testclock.Clock) {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "idp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sealer, err := datakey.New(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	clk := testclock.New(t0)
	for _, u := range []string{"anna", "bruno"} {
		if err := st.CreateOperator(t.Context(), storage.Operator{ID: "op-" + u, Username: u, Name: u, Roles: []string{"verifier"},
			PasswordHash: "x", Status: storage.OperatorActive, CreatedAt: t0, UpdatedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	return &opfactor.Service{Store: st, Sealer: sealer, Issuer: "IdP di prova", Now: clk.Now}, st, clk
}

// The supervisor's enrolment code works once, expires, and wrong guesses
// void it (security.md E.1).
func TestEnrolCodeSingleUseExpiryAndTries(t *testing.T) {
	ctx := t.Context()
	s, st, clk := newService(t)
	if err := s.RedeemEnrolCode(ctx, "op-anna", "ABCD-EFGH-JKLM"); !errors.Is(err, opfactor.ErrNoCode) {
		t.Fatalf("no code issued: %v", err)
	}
	code, err := s.IssueEnrolCode(ctx, "op-anna", "op-sup", false)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}$`).MatchString(code) {
		t.Fatalf("code %q", code)
	}
	op, _ := st.GetOperator(ctx, "op-anna")
	if op.SecondFactor.EnrolCodeHash == "" || strings.Contains(op.SecondFactor.EnrolCodeHash, code) || op.SecondFactor.EnrolCodeBy != "op-sup" {
		t.Fatalf("stored %+v", op.SecondFactor)
	}
	// Another operator's code is not anna's.
	other, _ := s.IssueEnrolCode(ctx, "op-bruno", "op-sup", false)
	if err := s.RedeemEnrolCode(ctx, "op-anna", other); !errors.Is(err, opfactor.ErrWrongCode) {
		t.Fatalf("bruno's code for anna: %v", err)
	}
	// Typed loosely (lower case, spaces): still the code; then spent.
	if err := s.RedeemEnrolCode(ctx, "op-anna", strings.ToLower(strings.ReplaceAll(code, "-", " "))); err != nil {
		t.Fatalf("right code: %v", err)
	}
	if err := s.RedeemEnrolCode(ctx, "op-anna", code); !errors.Is(err, opfactor.ErrNoCode) {
		t.Fatalf("second use: %v", err)
	}

	// Expiry.
	code, _ = s.IssueEnrolCode(ctx, "op-anna", "op-sup", false)
	clk.Advance(opfactor.EnrolCodeTTL)
	if err := s.RedeemEnrolCode(ctx, "op-anna", code); !errors.Is(err, opfactor.ErrCodeExpired) {
		t.Fatalf("expired code: %v", err)
	}
	if err := s.RedeemEnrolCode(ctx, "op-anna", code); !errors.Is(err, opfactor.ErrNoCode) {
		t.Fatalf("expired code kept: %v", err)
	}

	// Tries: the last wrong one voids the code, the right one then fails.
	code, _ = s.IssueEnrolCode(ctx, "op-anna", "op-sup", false)
	for i := 1; i <= opfactor.MaxEnrolTries; i++ {
		err := s.RedeemEnrolCode(ctx, "op-anna", "AAAA-AAAA-AAAA")
		want := opfactor.ErrWrongCode
		if i == opfactor.MaxEnrolTries {
			want = opfactor.ErrTooManyTries
		}
		if !errors.Is(err, want) {
			t.Fatalf("wrong try %d: %v, want %v", i, err, want)
		}
	}
	if err := s.RedeemEnrolCode(ctx, "op-anna", code); !errors.Is(err, opfactor.ErrNoCode) {
		t.Fatalf("right code after the tries ran out: %v", err)
	}
}

// A TOTP factor: confirmed with a code before it is stored, sealed to its
// operator, each code accepted once; a reset removes it.
func TestTOTPFactor(t *testing.T) {
	ctx := t.Context()
	s, st, clk := newService(t)
	anna, _ := st.GetOperator(ctx, "op-anna")
	p, err := s.NewTOTP(anna)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p.URI, "otpauth://totp/") || !strings.Contains(p.URI, "anna") {
		t.Errorf("URI %q", p.URI)
	}
	seed, err := otp.DecodeSeed(p.Secret)
	if err != nil {
		t.Fatal(err)
	}
	wrong := []byte(otp.Code(seed, clk.Now()))
	wrong[0] = '0' + (wrong[0]-'0'+1)%10
	if err := s.AddTOTP(ctx, "op-anna", p.FactorID, p.Sealed, string(wrong)); !errors.Is(err, opfactor.ErrRefused) {
		t.Fatalf("wrong confirmation code: %v", err)
	}
	// The pending seed does not open for bruno.
	if err := s.AddTOTP(ctx, "op-bruno", p.FactorID, p.Sealed, otp.Code(seed, clk.Now())); !errors.Is(err, opfactor.ErrRefused) {
		t.Fatalf("anna's seed for bruno: %v", err)
	}
	if err := s.AddTOTP(ctx, "op-anna", p.FactorID, p.Sealed, otp.Code(seed, clk.Now())); err != nil {
		t.Fatal(err)
	}
	anna, _ = st.GetOperator(ctx, "op-anna")
	if !opfactor.Has(anna, storage.FactorTOTP) || opfactor.Has(anna, storage.FactorWebAuthn) {
		t.Fatalf("factors %+v", anna.SecondFactor.Factors)
	}
	if bytes.Contains(anna.SecondFactor.Factors[0].Secret, seed) {
		t.Fatal("seed stored in clear")
	}
	// The confirmation code is spent: not valid again for login.
	if _, err := s.CheckTOTP(ctx, "op-anna", otp.Code(seed, clk.Now())); !errors.Is(err, opfactor.ErrRefused) {
		t.Fatalf("replayed code: %v", err)
	}
	clk.Advance(30 * time.Second)
	id, err := s.CheckTOTP(ctx, "op-anna", otp.Code(seed, clk.Now()))
	if err != nil || id != p.FactorID {
		t.Fatalf("next code: %q %v", id, err)
	}
	if _, err := s.CheckTOTP(ctx, "op-bruno", otp.Code(seed, clk.Now().Add(30*time.Second))); !errors.Is(err, opfactor.ErrNoFactor) {
		t.Fatalf("bruno without a factor: %v", err)
	}
	// Copy anna's sealed seed into bruno's row: it does not open there.
	if err := st.UpdateOperator(ctx, "op-bruno", func(o storage.Operator) (storage.Operator, error) {
		o.SecondFactor = anna.SecondFactor
		return o, nil
	}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(30 * time.Second)
	if _, err := s.CheckTOTP(ctx, "op-bruno", otp.Code(seed, clk.Now())); !errors.Is(err, opfactor.ErrRefused) {
		t.Fatalf("anna's seed copied to bruno: %v", err)
	}
	// Reset: factors gone, a new code waits.
	if _, err := s.IssueEnrolCode(ctx, "op-anna", "op-sup", true); err != nil {
		t.Fatal(err)
	}
	anna, _ = st.GetOperator(ctx, "op-anna")
	if opfactor.Has(anna, "") || anna.SecondFactor.EnrolCodeHash == "" {
		t.Fatalf("after reset: %+v", anna.SecondFactor)
	}
}

func TestRelyingPartyFromOrigin(t *testing.T) {
	rp, err := opfactor.NewRelyingParty("http://localhost:8443", "IdP")
	if err != nil {
		t.Fatal(err)
	}
	if rp.Config.RPID != "localhost" || rp.Config.RPOrigins[0] != "http://localhost:8443" {
		t.Errorf("RP %q origins %v", rp.Config.RPID, rp.Config.RPOrigins)
	}
	// WebAuthn has no RP ID for an IP address: TOTP only there.
	if _, err := opfactor.NewRelyingParty("http://127.0.0.1:8080", ""); !errors.Is(err, opfactor.ErrNoPasskeys) {
		t.Errorf("IP origin: %v", err)
	}
	if _, err := opfactor.NewRelyingParty("idp.example.it", ""); err == nil {
		t.Error("an origin without scheme accepted")
	}
}
