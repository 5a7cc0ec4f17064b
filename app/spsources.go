package app

import (
	"context"
	"fmt"
	"strings"

	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/storage"
)

// WatchSPSources starts one goroutine per idp.sp_sources entry that syncs
// the federation's SP list now and every refresh until ctx ends. Each
// round is logged and audited; a failed round changes nothing. Several
// nodes may sync the same list: each round is one transaction and the
// outcome does not depend on which node ran it. An unreadable federation
// certificate is a configuration error and stops start-up.
func (a *App) WatchSPSources(ctx context.Context) error {
	var srcs []metadata.FederationSource
	for i, s := range a.Config.IdP.SPSources {
		certs, err := metadata.LoadCertificates(s.Certificate)
		if err != nil {
			return fmt.Errorf("idp.sp_sources[%d]: %w", i, err)
		}
		srcs = append(srcs, metadata.FederationSource{Location: s.Location(), Certs: certs})
	}
	for i, src := range srcs {
		go a.SPs.WatchFederation(ctx, src, a.Config.IdP.SPSources[i].Refresh, func(res metadata.SyncResult, err error) {
			a.reportSync(ctx, src.Location, res, err)
		})
	}
	return nil
}

func (a *App) reportSync(ctx context.Context, location string, res metadata.SyncResult, err error) {
	ev := storage.AuditEvent{Actor: "system", Action: "sp.sync", Outcome: "success",
		Details: map[string]string{"source": location}}
	if err != nil {
		a.Log.Error("federation SP list not loaded; SPs unchanged", "source", location, "error", err)
		ev.Outcome, ev.Details["error"] = "failure", err.Error()
	} else {
		a.Log.Info("federation SP list synced", "source", location, "result", res.Summary())
		ev.Details["summary"] = res.Summary()
		for _, id := range res.FailedIDs() {
			a.Log.Warn("federation SP entity rejected; last good copy kept", "source", location, "entity_id", id, "error", res.Failed[id])
		}
		if ids := res.FailedIDs(); len(ids) > 0 {
			ev.Details["rejected"] = strings.Join(ids, " ")
		}
	}
	if aerr := a.Audit.Record(ctx, ev); aerr != nil && ctx.Err() == nil {
		a.Log.Error("audit record of an SP sync failed", "error", aerr)
	}
}
