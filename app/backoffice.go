package app

import (
	"context"
	"fmt"
	"time"

	"github.com/spid-idp/spid-idp/enrolment/console"
	"github.com/spid-idp/spid-idp/enrolment/web"
	"github.com/spid-idp/spid-idp/idp/appapi"
	"github.com/spid-idp/spid-idp/lifecycle"
)

// uploadLimits are the body caps of the routes that take files: the
// citizen's scans and signed form, the console's scans and recordings, the
// care desk's attachments. Everything else keeps server.max_body_bytes.
func uploadLimits() map[string]int64 {
	limits := web.BodyLimits(0)
	limits[console.Prefix] = 256 << 20 // video recordings
	limits["/care/"] = 32 << 20        // three attachments of 10 MB
	return limits
}

// longRequests are the paths without server.request_timeout: the uploads
// (a recording takes its time to store) and the app's long poll.
func longRequests() []string {
	out := []string{appapi.Prefix}
	for p := range uploadLimits() {
		out = append(out, p)
	}
	return out
}

// MountBackOffice mounts the operator console (enrolment verification,
// recognition) and the customer-care desk, which signs operators in through
// the console. The serve command calls it after Build.
func (a *App) MountBackOffice() error {
	con, err := a.MountConsole()
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	a.Console = con
	if err := a.mountVideoDesk(con); err != nil {
		return fmt.Errorf("video-call agenda: %w", err)
	}
	if a.Care, err = a.SetupCare(con); err != nil {
		return fmt.Errorf("care desk: %w", err)
	}
	return nil
}

// careJob closes solved tickets and applies the care retention rules; it
// runs only where the desk is mounted.
func (a *App) careJob() lifecycle.Job {
	return lifecycle.Job{Name: "care", Run: func(ctx context.Context, _ time.Time) (string, error) {
		if a.Care == nil {
			return "care desk not mounted", nil
		}
		n, err := a.Care.Desk.CloseSolved(ctx)
		if err != nil {
			return "", err
		}
		m, err := a.Care.Desk.SweepRetention(ctx)
		return fmt.Sprintf("%d tickets closed, %d purged", n, m), err
	}}
}
