package pkcs11_test

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/idp/response"
	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/internal/softhsmtest"
	"github.com/spid-idp/spid-idp/internal/spclient"
	"github.com/spid-idp/spid-idp/keys"
	"github.com/spid-idp/spid-idp/keys/pkcs11"
)

// TestHSMSignsResponse makes a signing key inside a SoftHSM token,
// certifies it, and has the IdP's Response builder sign with it: an SP
// trusting that certificate accepts the Response.
func TestHSMSignsResponse(t *testing.T) {
	cfg := softhsmtest.Token(t, "spid-test", "4321")
	tok, err := pkcs11.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	if _, err := tok.Signer("signing"); !errors.Is(err, pkcs11.ErrNotFound) {
		t.Fatalf("Signer of a missing label: %v, want ErrNotFound", err)
	}
	signer, err := tok.GenerateRSA("signing", 2048)
	if err != nil {
		t.Fatal(err)
	}
	const entity = "https://idp.example.it"
	pair, err := keys.Generate(keys.GenerateOptions{Key: signer, CommonName: "IdP di prova", Locality: "Roma",
		OrganizationIdentifier: "VATIT-12345678901", OrganizationName: "Prova S.p.A.", EntityID: entity,
		ValidFor: 365 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.CheckIdPProfile(pair.Cert, entity, time.Now()); err != nil {
		t.Errorf("certificate of the HSM key: %v", err)
	}
	// A second lookup by label finds the same key, as a restarted node would.
	again, err := tok.Signer("signing")
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Match(again, pair.Cert); err != nil {
		t.Fatal(err)
	}
	pair.Key = again

	const sp, acs, reqID = "https://sp.example.it", "https://sp.example.it/acs", "_req1"
	b := &response.Builder{EntityID: entity, Signing: pair}
	xml, err := b.Success(response.Success{InResponseTo: reqID, Destination: acs, Audience: sp,
		NameID: "_n1", Level: spid.L2, AuthnInstant: time.Now(), IncludeAttributeStatement: true,
		Attributes: []response.Attribute{{Name: "spidCode", Value: "EXID0000000001"}}})
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString(xml)
	res, err := spclient.Check(b64, spclient.Expect{InResponseTo: reqID, Destination: acs, Audience: sp, IdPCerts: nil})
	if err == nil {
		t.Fatal("an SP trusting no certificate accepted the Response")
	}
	res, err = spclient.Check(b64, spclient.Expect{InResponseTo: reqID, Destination: acs, Audience: sp, IdPCerts: []*x509.Certificate{pair.Cert}})
	if err != nil || !res.Success {
		t.Fatalf("the SP refused the HSM-signed Response: %v %+v", err, res)
	}
	other, _ := keys.Generate(keys.GenerateOptions{Bits: 2048, CommonName: "x", Locality: "Roma",
		OrganizationIdentifier: "VATIT-12345678901", OrganizationName: "x", EntityID: entity})
	if _, err := spclient.Check(b64, spclient.Expect{InResponseTo: reqID, Destination: acs, Audience: sp, IdPCerts: []*x509.Certificate{other.Cert}}); err == nil {
		t.Fatal("an SP trusting another certificate accepted the Response")
	}
}

// TestHSMWrapsDataKey wraps a data key under an AES key kept in the token
// and unwraps it again; a wrong PIN is refused without echoing the PIN.
func TestHSMWrapsDataKey(t *testing.T) {
	cfg := softhsmtest.Token(t, "spid-wrap", "9876")
	// Before any login: once one session of the process is logged in,
	// the token takes any PIN.
	bad := cfg
	bad.PIN = "000000-secret"
	if _, err := pkcs11.Open(bad); err == nil || strings.Contains(err.Error(), bad.PIN) {
		t.Errorf("wrong PIN: %v", err)
	}
	tok, err := pkcs11.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	if err := tok.GenerateWrappingKey("datakey-wrap"); err != nil {
		t.Fatal(err)
	}
	dk := bytes.Repeat([]byte{7}, 32)
	wrapped, err := tok.Wrap("datakey-wrap", dk)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(wrapped, dk) {
		t.Fatal("the wrapped value holds the key in clear")
	}
	got, err := tok.Unwrap("datakey-wrap", wrapped)
	if err != nil || !bytes.Equal(got, dk) {
		t.Fatalf("Unwrap = %x, %v", got, err)
	}
	wrapped[len(wrapped)-1] ^= 1
	if _, err := tok.Unwrap("datakey-wrap", wrapped); err == nil {
		t.Error("a altered wrapped value unwrapped")
	}
	if _, err := tok.Unwrap("nope", wrapped); !errors.Is(err, pkcs11.ErrNotFound) {
		t.Errorf("unwrap with a missing label: %v", err)
	}
}
