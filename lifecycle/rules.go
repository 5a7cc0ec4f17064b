package lifecycle

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/storage"
)

// Policy holds the timings of §8.3–8.4 and security.md E.2. The zero value
// of a field means the spec's value (DefaultPolicy).
type Policy struct {
	SuspensionPeriod   time.Duration // holder's suspension: 30 days
	InactivityMonths   int           // revocation after 24 months without authentication
	NoticeDays         []int         // before contract expiry and inactivity: 90, 30, 10, 1
	DocumentNoticeDays []int         // before the document expires: 30, 7
	ProposalTTL        time.Duration // four-eyes approval within 72 hours
	PasswordKeep       time.Duration // disabled hash kept 90 days after revocation
	RenewalWindow      time.Duration // renewal from 90 days before valid_until
	ExpiringWindow     time.Duration // "ATTIVO – IN SCADENZA" from 90 days before
}

const day = 24 * time.Hour

// DefaultPolicy is the spec's numbers (§13).
func DefaultPolicy() Policy {
	return Policy{
		SuspensionPeriod:   30 * day,
		InactivityMonths:   24,
		NoticeDays:         []int{90, 30, 10, 1},
		DocumentNoticeDays: []int{30, 7},
		ProposalTTL:        72 * time.Hour,
		PasswordKeep:       90 * day,
		RenewalWindow:      90 * day,
		ExpiringWindow:     90 * day,
	}
}

func (p Policy) withDefaults() Policy {
	d := DefaultPolicy()
	if p.SuspensionPeriod <= 0 {
		p.SuspensionPeriod = d.SuspensionPeriod
	}
	if p.InactivityMonths <= 0 {
		p.InactivityMonths = d.InactivityMonths
	}
	if len(p.NoticeDays) == 0 {
		p.NoticeDays = d.NoticeDays
	}
	if len(p.DocumentNoticeDays) == 0 {
		p.DocumentNoticeDays = d.DocumentNoticeDays
	}
	if p.ProposalTTL <= 0 {
		p.ProposalTTL = d.ProposalTTL
	}
	if p.PasswordKeep <= 0 {
		p.PasswordKeep = d.PasswordKeep
	}
	if p.RenewalWindow <= 0 {
		p.RenewalWindow = d.RenewalWindow
	}
	if p.ExpiringWindow <= 0 {
		p.ExpiringWindow = d.ExpiringWindow
	}
	return p
}

// Never is the NextDueAt of a record nothing will ever happen to (a zero
// NextDueAt means "look at it now").
var Never = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

// InactivityDeadline is when the identity is revoked for inactivity:
// last_auth_at (valid_from for a never-used identity) + 24 months (§8.4);
// zero when neither is known, or when the contract ends first (then the
// contract-expiry notices and revocation apply, and the holder is not told
// twice about one end).
func (p Policy) InactivityDeadline(l storage.IdentityLifecycle) time.Time {
	d := p.inactivityFrom(l)
	if !l.ValidUntil.IsZero() && !d.Before(l.ValidUntil) {
		return time.Time{}
	}
	return d
}

func (p Policy) inactivityFrom(l storage.IdentityLifecycle) time.Time {
	base := l.LastAuthAt
	if base.IsZero() {
		base = l.ValidFrom
	}
	if base.IsZero() {
		return time.Time{}
	}
	return base.AddDate(0, p.withDefaults().InactivityMonths, 0)
}

// Expiring reports the derived "ATTIVO – IN SCADENZA" display (E091):
// active with valid_until within ExpiringWindow.
func (p Policy) Expiring(l storage.IdentityLifecycle, now time.Time) bool {
	p = p.withDefaults()
	return l.State == storage.IdentityActive && !l.ValidUntil.IsZero() && !now.Before(l.ValidUntil.Add(-p.ExpiringWindow))
}

// DocumentExpiry is the expiry date of the identity document (the fifth
// part of the idCard attribute), as the first instant after it in Rome:
// the day after the expiry date is when the identity is suspended (§8.2).
// ok is false when there is no readable date.
func DocumentExpiry(id storage.Identity) (t time.Time, ok bool) {
	parts := strings.Fields(id.Attributes["idCard"])
	if len(parts) < 5 {
		return time.Time{}, false
	}
	d, err := time.ParseInLocation("2006-01-02", parts[len(parts)-1], rome())
	if err != nil {
		return time.Time{}, false
	}
	return d.AddDate(0, 0, 1), true
}

// contactsDigest fingerprints the registered e-mail and mobile; the day-30
// reactivation needs them unchanged (AVV10).
func contactsDigest(id storage.Identity) string {
	h := sha256.Sum256([]byte(strings.ToLower(id.Attributes["email"]) + "\n" + id.Attributes["mobilePhone"]))
	return hex.EncodeToString(h[:])
}

// noticeKey names one notice for one target date, so a moved deadline
// (renewal, a new login, a new document) gets its notices again.
func noticeKey(prefix string, days int, target time.Time) string {
	return fmt.Sprintf("%s-%d:%s", prefix, days, target.In(rome()).Format("2006-01-02"))
}

// dueNotice picks the notice to send now for a deadline: of the thresholds
// whose time has come and that were not sent, the closest to the deadline.
// The earlier ones it passes over are marked too, so a scheduler back from
// downtime sends one current notice rather than a burst of stale ones
// (§8.4: "sends the ones still due"). It returns 0 when none is due.
func dueNotice(l *storage.IdentityLifecycle, prefix string, days []int, target, now time.Time) int {
	if target.IsZero() || !now.Before(target) {
		return 0
	}
	best := 0
	for _, n := range days {
		if now.Before(target.Add(-time.Duration(n)*day)) || slices.Contains(l.NoticesSent, noticeKey(prefix, n, target)) {
			continue
		}
		if best == 0 || n < best {
			best = n
		}
	}
	if best == 0 {
		return 0
	}
	for _, n := range days {
		if k := noticeKey(prefix, n, target); n >= best && !slices.Contains(l.NoticesSent, k) {
			l.NoticesSent = append(l.NoticesSent, k)
		}
	}
	return best
}

// pruneNotices drops notice keys of deadlines that no longer apply, so the
// list stays short over the years.
func pruneNotices(l *storage.IdentityLifecycle, current map[string]time.Time) {
	l.NoticesSent = slices.DeleteFunc(l.NoticesSent, func(k string) bool {
		prefix, rest, ok := strings.Cut(k, "-")
		if !ok {
			return false
		}
		target, known := current[prefix]
		if !known {
			return false
		}
		_, date, _ := strings.Cut(rest, ":")
		return target.IsZero() || date != target.In(rome()).Format("2006-01-02")
	})
}

// nextDue is the earliest instant at which something of this record will
// be due: the scheduler's index.
func (p Policy) nextDue(l storage.IdentityLifecycle, id storage.Identity) time.Time {
	next := Never
	consider := func(t time.Time) {
		if !t.IsZero() && t.Before(next) {
			next = t
		}
	}
	notices := func(prefix string, days []int, target time.Time) {
		if target.IsZero() {
			return
		}
		for _, n := range days {
			if !slices.Contains(l.NoticesSent, noticeKey(prefix, n, target)) {
				consider(target.Add(-time.Duration(n) * day))
			}
		}
	}
	if l.Pending != nil {
		consider(l.Pending.ProposedAt.Add(p.ProposalTTL))
	}
	switch l.State {
	case storage.IdentityRevoked:
		if l.Revocation != nil && !slices.Contains(l.NoticesSent, keyPasswordDeleted) {
			consider(l.Revocation.EffectiveAt.Add(p.PasswordKeep))
		}
	case storage.IdentityActive, storage.IdentitySuspended:
		consider(l.ValidUntil)
		notices(prefixExpiry, p.NoticeDays, l.ValidUntil)
		inact := p.InactivityDeadline(l)
		consider(inact)
		notices(prefixInactivity, p.NoticeDays, inact)
		if s := l.Suspension; l.State == storage.IdentitySuspended && s != nil && s.Blocked == "" && timedSuspension(s) {
			consider(s.Until)
		}
		if doc, ok := DocumentExpiry(id); ok && l.State == storage.IdentityActive {
			consider(doc)
			notices(prefixDocument, p.DocumentNoticeDays, doc.AddDate(0, 0, -1))
		}
	}
	return next
}

const (
	prefixExpiry       = "expiry"
	prefixInactivity   = "inactivity"
	prefixDocument     = "document"
	keyPasswordDeleted = "password-deleted"
)

func timedSuspension(s *storage.Suspension) bool {
	r, ok := suspensionCauses[Cause(s.Cause)]
	return ok && r.timed && !s.Until.IsZero()
}

func rome() *time.Location {
	loc, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		return time.FixedZone("CET", 3600)
	}
	return loc
}
