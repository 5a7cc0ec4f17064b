package main

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/internal/testpki"
)

// TestServeStopsWhenCNSCannotBind: a CNS listener that cannot bind (its
// port taken) stops start-up with one clear line, instead of an IdP
// running with the card path dead.
func TestServeStopsWhenCNSCannotBind(t *testing.T) {
	d := newDemoEnv(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := free.Addr().String()
	free.Close()
	ca := testpki.New(t, testpki.Options{Name: "CNS CA"})
	d.environ = append(d.environ, "SPID_IDP_SERVER_LISTEN="+addr, "SPID_IDP_SERVER_BASE_URL=http://"+addr, "SPID_IDP_LOG_LEVEL=error",
		"SPID_IDP_ENROLMENT_CNS_LISTEN="+taken.Addr().String(), "SPID_IDP_ENROLMENT_CNS_CA_FILE="+ca.PEMFile())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errb strings.Builder
	code := dispatch(ctx, env{stdout: &out, stderr: &errb, stdin: strings.NewReader(""), environ: d.environ}, []string{"serve"})
	if code != exitFailure || !strings.Contains(errb.String(), "enrolment.cns_listen: cannot listen on "+taken.Addr().String()) {
		t.Fatalf("exit %d, stderr:\n%s", code, errb.String())
	}
}
