package lifecycle_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/lifecycle"
	"github.com/spid-idp/spid-idp/notify/mail"
	"github.com/spid-idp/spid-idp/notify/sms"
)

type mailBox struct{ got []mail.Message }

func (m *mailBox) Send(_ context.Context, x mail.Message) error { m.got = append(m.got, x); return nil }

type smsBox struct {
	got []sms.Message
	err error
}

func (m *smsBox) Send(_ context.Context, x sms.Message) error {
	if m.err != nil {
		return m.err
	}
	m.got = append(m.got, x)
	return nil
}

// E113 for lifecycle messages: no link in SMS texts, no fiscal code, the
// spidCode only by its last characters; Italian and English.
func TestMailSMSNotifier(t *testing.T) {
	mb, sb := &mailBox{}, &smsBox{}
	n := lifecycle.MailSMS{Mail: mb, SMS: sb}
	ctx := t.Context()
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	kinds := []lifecycle.NoticeKind{lifecycle.NoticeSuspended, lifecycle.NoticeReactivated, lifecycle.NoticeReactivationBlocked,
		lifecycle.NoticeRevoked, lifecycle.NoticeRevocationProposed, lifecycle.NoticeRenewed, lifecycle.NoticeExpiry,
		lifecycle.NoticeInactivity, lifecycle.NoticeDocumentExpiry}
	for _, k := range kinds {
		err := n.Notify(ctx, lifecycle.Notice{Kind: k, Email: "mario@example.it", Mobile: "+393331234567", SPIDSuffix: "AB12",
			Cause: lifecycle.CauseHolderRequest, Reason: "contacts_changed", Date: at, DaysLeft: 30, SMS: true})
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
	}
	if len(mb.got) != len(kinds) || len(sb.got) != len(kinds) {
		t.Fatalf("%d e-mails, %d SMS for %d notices", len(mb.got), len(sb.got), len(kinds))
	}
	for i, m := range mb.got {
		if !strings.Contains(m.Text, "…AB12") || strings.Contains(m.Text, "TINIT") || m.Subject == "" {
			t.Errorf("e-mail %s: %q / %q", kinds[i], m.Subject, m.Text)
		}
		if !strings.Contains(m.Text, "01/12/2026") && kinds[i] != lifecycle.NoticeReactivationBlocked && kinds[i] != lifecycle.NoticeRevocationProposed {
			t.Errorf("e-mail %s names no date: %q", kinds[i], m.Text)
		}
	}
	for _, s := range sb.got {
		if strings.Contains(s.Text, "http") || strings.Contains(s.Text, "www.") {
			t.Errorf("SMS with a link: %q", s.Text)
		}
	}
	// No SMS when the notice does not ask for one; a failing gateway is reported.
	sb.got = nil
	_ = n.Notify(ctx, lifecycle.Notice{Kind: lifecycle.NoticeRenewed, Email: "mario@example.it", Mobile: "+393331234567", Date: at})
	if len(sb.got) != 0 {
		t.Error("SMS sent for an e-mail-only notice")
	}
	sb.err = errors.New("gateway down")
	if err := n.Notify(ctx, lifecycle.Notice{Kind: lifecycle.NoticeRevoked, Mobile: "+393331234567", SMS: true, Date: at}); err == nil {
		t.Error("SMS failure not reported")
	}
}

// A suspension notice gives the date and time (dd/mm/yyyy HH:MM, Rome),
// the cause in words, when it ends by itself and how to reactivate sooner,
// in the e-mail and in the SMS (issue 12).
func TestSuspensionNoticeInWords(t *testing.T) {
	mb, sb := &mailBox{}, &smsBox{}
	n := lifecycle.MailSMS{Mail: mb, SMS: sb}
	at := time.Date(2028, 12, 7, 23, 30, 0, 0, time.UTC)
	err := n.Notify(t.Context(), lifecycle.Notice{Kind: lifecycle.NoticeSuspended, Email: "mario@example.it", Mobile: "+393331234567",
		SPIDSuffix: "AB12", Cause: lifecycle.CauseHolderRequest, Date: at, Until: at.Add(30 * 24 * time.Hour), SMS: true})
	if err != nil || len(mb.got) != 1 || len(sb.got) != 1 {
		t.Fatalf("%v: %d e-mails, %d SMS", err, len(mb.got), len(sb.got))
	}
	for _, text := range []string{mb.got[0].Text, sb.got[0].Text} {
		for _, want := range []string{"08/12/2028 00:30", "su tua richiesta", "07/01/2029 00:30", "contatta l'assistenza clienti"} {
			if !strings.Contains(text, want) {
				t.Errorf("no %q in %q", want, text)
			}
		}
		if strings.Contains(text, "holder") || strings.Contains(text, "2028-12") {
			t.Errorf("a code or another date format in %q", text)
		}
	}
	if !strings.Contains(mb.got[0].Text, "at your request") || !strings.Contains(mb.got[0].Text, "contact customer care") {
		t.Errorf("English part: %q", mb.got[0].Text)
	}
}
