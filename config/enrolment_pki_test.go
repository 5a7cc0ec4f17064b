package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEnrolmentPKIValidation: the CNS and signature paths' settings are
// checked at once, each problem in words: bundles that hold no
// certificate, a CNS listener on the main listener's address, a CNS
// certificate without its key, an unknown revocation policy.
func TestEnrolmentPKIValidation(t *testing.T) {
	f := newFixture(t)
	empty := filepath.Join(f.dir, "empty.pem")
	if err := os.WriteFile(empty, []byte("no certificates here\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keyOnly := filepath.Join(f.dir, "signing.key") // a PEM file with a key, no certificate
	ca := filepath.Join(f.dir, "signing.crt")
	for name, c := range map[string]struct {
		env  []string
		path string
		msg  string
	}{
		"empty CNS bundle": {[]string{"SPID_IDP_ENROLMENT_CNS_LISTEN=0.0.0.0:8443", "SPID_IDP_ENROLMENT_CNS_CA_FILE=" + empty,
			"SPID_IDP_SERVER_TLS_CERT_FILE=" + filepath.Join(f.dir, "tls.crt"), "SPID_IDP_SERVER_TLS_KEY_FILE=" + filepath.Join(f.dir, "tls.key")},
			"enrolment.cns_ca_file", "holds no PEM certificate"},
		"trust list with a key only":  {[]string{"SPID_IDP_ENROLMENT_SIGNATURE_TRUST_FILE=" + keyOnly}, "enrolment.signature_trust_file", "holds no PEM certificate"},
		"empty TSA bundle":            {[]string{"SPID_IDP_ENROLMENT_TSA_TRUST_FILE=" + empty}, "enrolment.tsa_trust_file", "holds no PEM certificate"},
		"CNS on the main listener":    {[]string{"SPID_IDP_ENROLMENT_CNS_LISTEN=127.0.0.1:8080", "SPID_IDP_ENROLMENT_CNS_CA_FILE=" + ca}, "enrolment.cns_listen", "must differ from server.listen"},
		"CNS behind a proxy, no cert": {[]string{"SPID_IDP_ENROLMENT_CNS_LISTEN=0.0.0.0:8443", "SPID_IDP_ENROLMENT_CNS_CA_FILE=" + ca}, "enrolment.cns_cert_file", "is required when enrolment.cns_listen is set"},
		"CNS cert without key":        {[]string{"SPID_IDP_ENROLMENT_CNS_CERT_FILE=" + filepath.Join(f.dir, "tls.crt")}, "enrolment.cns_cert_file", "go together"},
		"CNS pair that does not match": {[]string{"SPID_IDP_ENROLMENT_CNS_CERT_FILE=" + filepath.Join(f.dir, "tls.crt"), "SPID_IDP_ENROLMENT_CNS_KEY_FILE=" + filepath.Join(f.dir, "other.key")},
			"enrolment.cns_cert_file", "does not make a usable pair"},
		"CNS public URL over http": {[]string{"SPID_IDP_ENROLMENT_CNS_PUBLIC_URL=http://cns.example.it"}, "enrolment.cns_public_url", "https"},
		"no attempts":              {[]string{"SPID_IDP_ENROLMENT_CNS_MAX_ATTEMPTS=0"}, "enrolment.cns_max_attempts", "must be 1 or more"},
		"unknown policy":           {[]string{"SPID_IDP_ENROLMENT_REVOCATION=lenient"}, "enrolment.revocation", "hard"},
	} {
		t.Run(name, func(t *testing.T) {
			got := problems(t, f.write(t, f.minimal()), append(f.env, c.env...))
			if p := find(got, c.path); p == nil || !strings.Contains(p.String(), c.msg) {
				t.Errorf("want %s: %q among\n%v", c.path, c.msg, got)
			}
		})
	}
	// A complete CNS set-up with its own certificate is valid.
	ok := []string{"SPID_IDP_ENROLMENT_CNS_LISTEN=0.0.0.0:8443", "SPID_IDP_ENROLMENT_CNS_CA_FILE=" + ca,
		"SPID_IDP_ENROLMENT_CNS_CERT_FILE=" + filepath.Join(f.dir, "tls.crt"), "SPID_IDP_ENROLMENT_CNS_KEY_FILE=" + filepath.Join(f.dir, "tls.key"),
		"SPID_IDP_ENROLMENT_CNS_PUBLIC_URL=https://cns.idp.example.it", "SPID_IDP_ENROLMENT_REVOCATION=soft"}
	if got := problems(t, f.write(t, f.minimal()), append(f.env, ok...)); len(got) != 0 {
		t.Fatalf("valid CNS set-up refused: %v", got)
	}
}
