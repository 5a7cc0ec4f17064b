package main

import (
	"context"
	"fmt"

	"github.com/spid-idp/spid-idp/app"
	"github.com/spid-idp/spid-idp/audit"
)

func init() {
	register("audit verify", "check the audit log's hash chain; names the first modified, removed or reordered record (exit 1)", runAuditVerify)
}

func runAuditVerify(ctx context.Context, e env, args []string) int {
	fs := newFlagSet("audit verify", e)
	path := configFlag(fs, e)
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	cfg, code, ok := loadConfig(*path, e)
	if !ok {
		return code
	}
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp: %v\n", err)
		return exitFailure
	}
	defer st.Close()
	res, err := audit.Verify(ctx, st, 1000)
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp audit verify: %v\n", err)
		return exitFailure
	}
	if res.First != nil {
		fmt.Fprintf(e.stdout, "audit log BROKEN at record %d: %s (%d records verified before it)\n",
			res.First.Seq, res.First.Reason, res.Records)
		return exitFailure
	}
	fmt.Fprintf(e.stdout, "audit log intact: %d records, last hash %s\n", res.Records, res.LastHash)
	return exitOK
}
