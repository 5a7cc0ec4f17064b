package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/app"
	"github.com/spid-idp/spid-idp/demo"
)

func init() {
	register("serve", "run the identity provider (no -c: demo mode on 127.0.0.1:8080)", runServe)
}

func runServe(ctx context.Context, e env, args []string) int {
	fs := newFlagSet("serve", e)
	path := configFlag(fs, e)
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	cfg, code, ok := loadConfig(*path, e)
	if !ok {
		return code
	}
	if err := cfg.EnsureDemoKeys(); err != nil {
		fmt.Fprintf(e.stderr, "spid-idp: %v\n", err)
		return exitFailure
	}
	log := app.NewLogger(cfg.Log, os.Stderr)
	log.Info("starting spid-idp", "version", version, "config", cfg)

	b, err := app.OpenBackends(ctx, cfg)
	if err != nil {
		// One line naming what failed (host, never the password).
		fmt.Fprintf(e.stderr, "spid-idp: %v\n", err)
		return exitFailure
	}
	defer b.Close()
	a, err := app.Build(ctx, cfg, b, log)
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp: %v\n", err)
		return exitFailure
	}
	// Deferred after b.Close, so it runs first: queued register records
	// are written before the database closes.
	defer a.RegisterQueue.Close()
	if err := a.MountBackOffice(); err != nil {
		fmt.Fprintf(e.stderr, "spid-idp: %v\n", err)
		return exitFailure
	}
	if cfg.Demo {
		info, err := a.SetupDemo(ctx)
		if err != nil {
			fmt.Fprintf(e.stderr, "spid-idp: demo setup: %v\n", err)
			return exitFailure
		}
		fmt.Fprintf(e.stdout, `
  ==================================================================
   DEMO MODE — not for production: plain HTTP, local SQLite database,
   generated keys under %s, a demo SP and a demo citizen.
  ==================================================================
   IdP            %s
   IdP metadata   %s
   Demo SP        %s   ← open this and press "Entra con SPID"
   Demo RP (OIDC) %s   ← the same login by OpenID Connect
   Demo citizen   username %s
                  password %s
                  level-2 app seed %s
                  (add it to an authenticator app for level-2 codes)
   Get SPID       %s/enrol/          (request an identity)
   Back office    %s/console/        operators %s
                  password %s for each,
                  second factor: authenticator app seed %s
   Personal area  %s/account/        (the citizen's own area)
   Customer care  %s/care/           (help requests and formal complaints)
   Health         %s/healthz  %s/readyz  %s/metrics
  ==================================================================

`, cfg.DataDir, info.IdPURL, info.MetadataURL, info.DemoSPURL, info.DemoRPURL, info.Username, info.Password, info.TOTPSecret,
			info.IdPURL, info.IdPURL, demoOperators(), demo.OperatorPassword, info.OperatorTOTPSecret, info.IdPURL,
			info.IdPURL, info.IdPURL, info.IdPURL, info.IdPURL)
	}
	// Registry changes made by another node or by the sp command reach
	// this node's cache within about a second.
	go a.SPs.WatchRevision(ctx, 0)
	if st, err := os.Stat(cfg.IdP.SPMetadataDir); err == nil && st.IsDir() {
		// The directory is a second source of trusted SPs: files added,
		// changed or removed are picked up while running.
		go a.SPs.WatchDir(ctx, cfg.IdP.SPMetadataDir, 30*time.Second)
	}
	if err := a.WatchSPSources(ctx); err != nil {
		fmt.Fprintf(e.stderr, "spid-idp: %v\n", err)
		return exitFailure
	}
	cns, err := a.CNSServer()
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp: %v\n", err)
		return exitFailure
	}
	if cns != nil {
		// The CNS/CIE path's own TLS listener, asking for the card's
		// certificate. Bound before anything is served: an IdP whose card
		// path is dead must not start.
		ln, err := net.Listen("tcp", cns.Addr)
		if err != nil {
			fmt.Fprintf(e.stderr, "spid-idp: enrolment.cns_listen: cannot listen on %s: %v\n", cns.Addr, err)
			return exitFailure
		}
		go func() {
			if err := cns.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("CNS listener stopped", "addr", cns.Addr, "err", err)
			}
		}()
		defer cns.Shutdown(context.Background())
		log.Info("CNS/CIE listener started", "addr", cns.Addr)
	}
	// Timed duties (lifecycle, enrolment timers, retention): every node runs
	// the loop, a lease in the database lets one at a time do the work.
	go a.RunScheduler(ctx, time.Minute)
	// E-mail and SMS waiting in the shared queue (a failed delivery, a
	// node that died while sending): every node's worker claims what is
	// due, under a lease.
	if q, err := a.Backends.Outbox(cfg, log); err == nil && q != nil {
		go q.Run(ctx)
	}
	// A rollover planned with `spid-idp keys rollover` on any host reaches
	// this node's metadata within SigningRefresh.
	go a.Signing.Run(ctx, app.SigningRefresh)
	// An OIDC key signing before the trust anchor carries it is logged.
	go a.WatchOIDCKeys(ctx, app.OIDCKeyWatch)
	if err := a.Server.ListenAndServe(ctx); err != nil {
		fmt.Fprintf(e.stderr, "spid-idp: %v\n", err)
		return exitFailure
	}
	log.Info("stopped")
	return exitOK
}

func demoOperators() string {
	names := make([]string, len(demo.Operators))
	for i, o := range demo.Operators {
		names[i] = o.Username
	}
	return strings.Join(names, ", ")
}
