package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/spid-idp/spid-idp/app"
	"github.com/spid-idp/spid-idp/keys/rollover"
)

func init() {
	register("keys rollover", "plan a signing key rollover: publish the next certificate now, sign with it from --switch-at, retire the old one after --overlap (or --cancel)", runKeysRollover)
}

func runKeysRollover(ctx context.Context, e env, args []string) int {
	fs := newFlagSet("keys rollover", e)
	path := configFlag(fs, e)
	keyFile := fs.String("key", "", "the next private key (PEM) `FILE`; sealed with security.data_key into the database")
	certFile := fs.String("cert", "", "the next certificate (PEM) `FILE`")
	hsmLabel := fs.String("pkcs11-label", "", "instead of --key: the `LABEL` of the next key pair in the HSM of security.pkcs11")
	switchAt := fs.String("switch-at", "", "`TIME` (RFC 3339) the next key starts signing (default: now + idp.signing.rollover_announce)")
	overlap := fs.Duration("overlap", -1, "how long the old certificate stays published after the switch (default idp.signing.rollover_overlap)")
	cancel := fs.Bool("cancel", false, "remove the planned next key instead (only before it starts signing)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "spid-idp keys rollover: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	var at time.Time
	if *switchAt != "" {
		t, err := time.Parse(time.RFC3339, *switchAt)
		if err != nil {
			fmt.Fprintf(e.stderr, "spid-idp keys rollover: --switch-at: want a time like 2026-05-01T03:00:00Z, got %q\n", *switchAt)
			return exitUsage
		}
		at = t
	}
	if !*cancel && ((*keyFile == "") == (*hsmLabel == "") || *certFile == "") {
		fmt.Fprintln(e.stderr, "spid-idp keys rollover: --cert and one of --key or --pkcs11-label name the next key pair (or --cancel)")
		return exitUsage
	}
	a, code, ok := openAdmin(ctx, e, *path)
	if !ok {
		return code
	}
	defer a.close()
	// Demo mode: the data key the server generates, to seal the next key.
	if err := a.cfg.EnsureDemoKeys(); err != nil {
		fmt.Fprintf(e.stderr, "spid-idp keys rollover: %v\n", err)
		return exitFailure
	}
	now := time.Now()
	if *cancel {
		removed, err := app.CancelRollover(ctx, a.store, a.audit, a.actor, now)
		if err != nil {
			fmt.Fprintf(e.stderr, "spid-idp keys rollover --cancel: %v\n", err)
			return exitFailure
		}
		fmt.Fprintf(e.stdout, "cancelled    the rollover to %s (it would have signed from %s)\n",
			hexFingerprint(removed.ID), removed.ActivateAt.UTC().Format(time.RFC3339))
		return exitOK
	}
	planned, err := app.PlanRollover(ctx, a.cfg, a.store, a.audit, app.RolloverRequest{KeyFile: *keyFile, CertFile: *certFile, PKCS11Label: *hsmLabel,
		SwitchAt: at, Overlap: *overlap, Actor: a.actor}, now)
	if err != nil {
		if planned.ID == "" {
			_ = a.fail(ctx, rollover.ActionPlan, "", map[string]string{"reason": err.Error()})
		}
		fmt.Fprintf(e.stderr, "spid-idp keys rollover: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(e.stdout, "planned      %s\npublished    from now, in the metadata of every node\nsigns from   %s\n",
		hexFingerprint(planned.ID), planned.ActivateAt.UTC().Format(time.RFC3339))
	if d := planned.ActivateAt.Sub(now); d < a.cfg.IdP.Metadata.CacheDuration {
		fmt.Fprintf(e.stdout, "warning      the switch comes in %s, before SPs that cached the metadata (idp.metadata.cache_duration %s) fetch it again\n",
			d.Round(time.Second), a.cfg.IdP.Metadata.CacheDuration)
	}
	return exitOK
}

// runKeysState is `keys show` without --cert: the keys of the running
// configuration and of the rollover plan, as every node sees them now.
func runKeysState(ctx context.Context, e env, path string) int {
	a, code, ok := openAdmin(ctx, e, path)
	if !ok {
		return code
	}
	defer a.close()
	configured, err := app.SigningKeys(a.cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp keys show: %v\n", err)
		return exitFailure
	}
	rows, err := a.store.ListSigningKeys(ctx)
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp keys show: %v\n", err)
		return exitFailure
	}
	now := time.Now()
	states, _, ok := rollover.Schedule(rows, now)
	if !ok {
		fmt.Fprintln(e.stdout, "state        active (idp.signing; no rollover under way)")
		printCert(e.stdout, configured.Cert)
		fmt.Fprintln(e.stdout, "held         configuration (idp.signing)")
	}
	// Current first, then next, previous, retired.
	for _, want := range []rollover.State{rollover.Active, rollover.Next, rollover.Previous, rollover.Retired} {
		for _, s := range states {
			if s.State == want {
				printKeyState(e.stdout, s, configured.Cert)
			}
		}
	}
	return exitOK
}

func printKeyState(w io.Writer, s rollover.Status, configured *x509.Certificate) {
	k := s.Key
	fmt.Fprintln(w)
	fmt.Fprintf(w, "state        %s\n", s.State)
	if c, err := x509.ParseCertificate(k.Cert); err == nil {
		printCert(w, c)
	} else {
		fmt.Fprintf(w, "sha256       %s (certificate unreadable: %v)\n", hexFingerprint(k.ID), err)
	}
	when := func(t time.Time, none string) string {
		if t.IsZero() {
			return none
		}
		return t.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(w, "published    %s\n", when(k.PublishAt, "-"))
	fmt.Fprintf(w, "signs from   %s\n", when(k.ActivateAt, "the start (configured key)"))
	fmt.Fprintf(w, "retires      %s\n", when(k.RetireAt, "not planned"))
	held := "database, sealed with security.data_key"
	switch {
	case k.HSMLabel != "":
		held = fmt.Sprintf("HSM, label %q", k.HSMLabel)
	case k.Configured || (configured != nil && rollover.ID(configured) == k.ID):
		held = "configuration (idp.signing)"
	case len(k.Private) == 0 && s.State == rollover.Retired:
		held = "destroyed at retirement"
	}
	fmt.Fprintf(w, "held         %s\n", held)
}

// hexFingerprint writes a hex ID as colon-separated upper-case pairs, as
// printCert does.
func hexFingerprint(id string) string {
	var b []byte
	for i := 0; i+1 < len(id); i += 2 {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, toUpper(id[i]), toUpper(id[i+1]))
	}
	return string(b)
}

func toUpper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}
