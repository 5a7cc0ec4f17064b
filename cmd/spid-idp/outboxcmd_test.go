package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/storage"
)

// TestNoticeQueuedWithTheTransition runs the durable mail/SMS queue
// through the binary: a suspension by `user suspend` commits with its
// e-mail and SMS (the SMS delivered at once, the e-mail kept in the queue
// while the mail outbox cannot be written), a refused second suspension
// queues nothing, and the running server's /metrics shows the queue.
func TestNoticeQueuedWithTheTransition(t *testing.T) {
	d := newDemoEnv(t)
	mailDir := filepath.Join(d.dir, "mail-not-a-dir")
	if err := os.WriteFile(mailDir, []byte("a file where the mail outbox should be"), 0o600); err != nil {
		t.Fatal(err)
	}
	d.environ = append(d.environ, "SPID_IDP_SECURITY_DATA_KEY="+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{'q'}, 32)),
		"SPID_IDP_MAIL_OUTBOX_DIR="+mailDir)
	pwFile := writeTemp(t, "pw", []byte(testPassword+"\n"))
	d.mustRun(addArgs("mrossi", testCF, "--email", "mario.rossi@example.org", "--mobile", "+39 333 1234567",
		"--password-file", pwFile)...)
	queue := func() storage.QueueStats {
		t.Helper()
		var st storage.QueueStats
		d.withStore(func(s storage.Store) {
			var err error
			if st, err = s.(storage.MessageQueue).MessageQueueStats(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
		return st
	}
	smsDir := filepath.Join(d.dir, "outbox", "sms")
	smsCount := func() int {
		es, _ := os.ReadDir(smsDir)
		return len(es)
	}

	d.mustRun("user", "suspend", "--cause", "holder_request", "mrossi")
	if n := smsCount(); n != 1 {
		t.Errorf("%d SMS delivered, want the suspension's", n)
	}
	if st := queue(); st.Pending != 1 {
		t.Fatalf("queue %+v: want the suspension e-mail pending (the mail outbox cannot be written)", st)
	}
	if r := d.run("user", "suspend", "--cause", "holder_request", "mrossi"); r.code == exitOK {
		t.Fatal("a second suspension succeeded")
	}
	if st, n := queue(), smsCount(); st.Pending != 1 || n != 1 {
		t.Errorf("after a refused suspension: queue %+v, %d SMS; want nothing new", st, n)
	}

	addr := freeAddr(t)
	base := "http://" + addr
	d.environ = append(d.environ, "SPID_IDP_SERVER_LISTEN="+addr, "SPID_IDP_SERVER_BASE_URL="+base, "SPID_IDP_LOG_LEVEL=error")
	stop := d.serveUntilReady(base)
	res, err := (&http.Client{Timeout: 10 * time.Second}).Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(body), `spid_idp_message_queue_depth{state="pending"} 1`) {
		t.Errorf("/metrics does not show the pending e-mail:\n%s", grepMetric(string(body), "spid_idp_message"))
	}
	stop()
}

func grepMetric(body, prefix string) string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
