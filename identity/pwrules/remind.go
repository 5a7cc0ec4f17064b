package pwrules

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/spid-idp/spid-idp/storage"
)

// Reminder e-mails before a password expires (§7.2, §9, E063): at each of
// ReminderDays before the expiry, once. "Once" holds across scheduler runs
// and nodes: each reminder takes a durable single-use mark first (the
// same marks that keep answered requests single-use), named for the
// credential's current password and the day.

// RemindStore is what Remind reads.
type RemindStore interface {
	ListIdentities(ctx context.Context) ([]storage.Identity, error)
	GetCredential(ctx context.Context, identityID string) (storage.Credential, error)
}

// Reminder is one notice to send.
type Reminder struct {
	Identity  storage.Identity
	Email     string
	ExpiresAt time.Time
	Days      int // the reminder's day before expiry (7, 2)
}

// Remind calls send for every active identity with an e-mail address
// whose password expires within one of ReminderDays and that has not had
// that reminder: the nearest such day only (a 7-day reminder missed is not
// sent at 2 days alongside the 2-day one). It returns how many it sent.
// An error from send stops the run; the mark is taken, so a reminder whose
// sending failed is not retried (the queue behind send retries delivery).
func (p Policy) Remind(ctx context.Context, st RemindStore, marks storage.SingleUse, now time.Time,
	send func(ctx context.Context, r Reminder) error) (int, error) {
	p = p.WithDefaults()
	days := slices.Clone(p.ReminderDays)
	slices.Sort(days) // nearest first
	ids, err := st.ListIdentities(ctx)
	if err != nil {
		return 0, fmt.Errorf("password reminders: %w", err)
	}
	sent := 0
	for _, id := range ids {
		email := id.Attributes["email"]
		if id.Status != storage.IdentityActive || email == "" {
			continue
		}
		c, err := st.GetCredential(ctx, id.ID)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return sent, fmt.Errorf("password reminders: %w", err)
		}
		exp := p.ExpiresAt(c)
		if exp.IsZero() || !now.Before(exp) {
			continue // no password, or expired: the login asks for a new one
		}
		due := 0
		for _, d := range days {
			if !now.Before(exp.Add(-time.Duration(d) * 24 * time.Hour)) {
				due = d
				break
			}
		}
		if due == 0 {
			continue
		}
		mark := "pwreminder|" + id.ID + "|" + strconv.FormatInt(SetAt(c).UnixNano(), 10) + "|" + strconv.Itoa(due)
		// Kept past the expiry, when no reminder of this password is due
		// any more; marks expire on the wall clock, so never before it.
		keep := exp.Add(24 * time.Hour)
		if w := time.Now().Add(24 * time.Hour); keep.Before(w) {
			keep = w
		}
		err = marks.InsertRequestID(ctx, mark, keep)
		if errors.Is(err, storage.ErrAlreadyExists) {
			continue
		}
		if err != nil {
			return sent, fmt.Errorf("password reminders: %w", err)
		}
		if err := send(ctx, Reminder{Identity: id, Email: email, ExpiresAt: exp, Days: due}); err != nil {
			return sent, fmt.Errorf("password reminder to %s: %w", id.ID, err)
		}
		sent++
	}
	return sent, nil
}

// ReminderText is the reminder e-mail, in Italian and English; it carries
// the date and where to change the password, never the password.
func ReminderText(r Reminder, portalURL string, loc *time.Location) (subject, body string) {
	date := r.ExpiresAt.In(loc).Format("02/01/2006 15:04")
	subject = "SPID: la tua password scade presto / your password expires soon"
	body = fmt.Sprintf("La password della tua identità SPID scade il %s. Dopo quella data, al primo accesso ti "+
		"chiederemo di sceglierne una nuova; puoi cambiarla già ora dall'area personale: %s\n\n"+
		"The password of your SPID identity expires on %s. After that date you will be asked to choose a new "+
		"one at your next login; you can change it now in your personal area: %s\n", date, portalURL, date, portalURL)
	return subject, body
}
