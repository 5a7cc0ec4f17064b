package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/spid-idp/spid-idp/idp/push"
	"github.com/spid-idp/spid-idp/keys/datakey"
	"github.com/spid-idp/spid-idp/opfactor"
	"github.com/spid-idp/spid-idp/storage"
)

func init() {
	register("keys rotate-data-key", "re-seal every device's TOTP seed and public key under security.data_key (old key in security.previous_data_key)", runRotateDataKey)
}

// rotation counts what rotate-data-key did.
type rotation struct {
	devices, resealed, current int
	failed                     []string // "device D (identity I): reason"
}

// runRotateDataKey is the second half of a data-key rotation: the operator
// has put the new key in security.data_key and the old one in
// security.previous_data_key (the running IdP already opens both), and
// this re-seals every stored value still under an old key, so the old key
// can be removed. Rows already under the current key are left alone, so
// the command can be run again after an interruption.
func runRotateDataKey(ctx context.Context, e env, args []string) int {
	fs := newFlagSet("keys rotate-data-key", e)
	path := configFlag(fs, e)
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "spid-idp keys rotate-data-key: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	a, code, ok := openAdmin(ctx, e, *path)
	if !ok {
		return code
	}
	defer a.close()
	sealer, err := a.dataSealer()
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp keys rotate-data-key: %v\n", err)
		return exitUsage
	}
	r, err := rotateDataKey(ctx, a.store, sealer)
	// Operators' passkeys and TOTP seeds (opfactor) are sealed with the
	// same key: left behind, the operators would be locked out once the
	// old key goes.
	var ops rotation
	if err == nil {
		ops, err = rotateOperatorFactors(ctx, a.store, sealer)
	}
	details := map[string]string{
		// Key IDs are public hashes, but detail names holding "key" are
		// dropped by the audit logger: these name what sealed the rows.
		"sealed_under": fmt.Sprintf("%08x", sealer.CurrentKeyID()),
		"devices":      fmt.Sprint(r.devices),
		"resealed":     fmt.Sprint(r.resealed),
		"current":      fmt.Sprint(r.current),
		"failed":       fmt.Sprint(len(r.failed)),
	}
	if len(a.cfg.Security.PreviousDataKey) > 0 {
		details["previously_under"] = fmt.Sprintf("%08x", datakey.KeyID(a.cfg.Security.PreviousDataKey))
	}
	details["operator_factors"], details["operator_factors_resealed"] = fmt.Sprint(ops.devices), fmt.Sprint(ops.resealed)
	details["failed"] = fmt.Sprint(len(r.failed) + len(ops.failed))
	fmt.Fprintf(e.stdout, "devices %d: re-sealed %d, already under key %08x %d, failed %d\n",
		r.devices, r.resealed, sealer.CurrentKeyID(), r.current, len(r.failed))
	fmt.Fprintf(e.stdout, "operator factors %d: re-sealed %d, already under key %08x %d, failed %d\n",
		ops.devices, ops.resealed, sealer.CurrentKeyID(), ops.current, len(ops.failed))
	r.failed = append(r.failed, ops.failed...)
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp keys rotate-data-key: %v (the rows re-sealed so far stay re-sealed; run it again)\n", err)
		details["error"] = "store"
		return a.fail(ctx, "keys.rotate_data_key", "", details)
	}
	if len(r.failed) > 0 {
		for _, f := range r.failed {
			fmt.Fprintf(e.stderr, "  %s\n", f)
		}
		fmt.Fprintln(e.stderr, "spid-idp keys rotate-data-key: some devices did not open with data_key or previous_data_key; keep the old key configured until they are dealt with (revoke them, or configure the key that sealed them)")
		return a.fail(ctx, "keys.rotate_data_key", "", details)
	}
	if code := a.success(ctx, "keys.rotate_data_key", "", details); code != exitOK {
		return code
	}
	if r.devices > 0 || len(a.cfg.Security.PreviousDataKey) > 0 {
		fmt.Fprintln(e.stdout, "every device is under security.data_key: security.previous_data_key can be removed (evidence files of enrolment requests may still need it: keep it until they expire)")
	}
	return exitOK
}

// errResealed tells rotateDataKey that another process re-sealed the row
// between the read and the update: nothing to do.
var errResealed = errors.New("already current")

// rotateDataKey re-seals every device's Secret and PublicKey under the
// sealer's current key, with the same additional data. A row that does
// not open is counted as failed and left unchanged; a store error stops.
func rotateDataKey(ctx context.Context, st storage.Store, sealer *datakey.Sealer) (rotation, error) {
	var r rotation
	ids, err := st.ListIdentities(ctx)
	if err != nil {
		return r, fmt.Errorf("listing identities: %w", err)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].ID < ids[j].ID })
	cur := sealer.CurrentKeyID()
	for _, id := range ids {
		devs, err := st.ListDevices(ctx, id.ID)
		if err != nil {
			return r, fmt.Errorf("listing devices of %s: %w", id.ID, err)
		}
		for _, d := range devs {
			r.devices++
			if isCurrent(d, cur) {
				r.current++
				continue
			}
			// Re-sealed inside the update so a concurrent change (a new
			// LastStep, a revocation) is kept: only the sealed fields move.
			err := st.UpdateDevice(ctx, d.ID, func(x storage.Device) (storage.Device, error) {
				if isCurrent(x, cur) {
					return x, errResealed
				}
				var err error
				if x.Secret, err = reseal(sealer, x.Secret, push.SeedAD(x.IdentityID, x.ID)); err != nil {
					return x, fmt.Errorf("TOTP seed: %w", err)
				}
				if x.PublicKey, err = reseal(sealer, x.PublicKey, push.PublicKeyAD(x.IdentityID, x.ID)); err != nil {
					return x, fmt.Errorf("public key: %w", err)
				}
				x.KeyVersion = int(cur)
				return x, nil
			})
			switch {
			case err == nil:
				r.resealed++
			case errors.Is(err, errResealed):
				r.current++
			case errors.Is(err, datakey.ErrUnknownKey), errors.Is(err, datakey.ErrAuthentication), errors.Is(err, datakey.ErrMalformed):
				r.failed = append(r.failed, fmt.Sprintf("device %s (identity %s): %v", d.ID, d.IdentityID, err))
			case errors.Is(err, storage.ErrNotFound):
				r.devices-- // deleted meanwhile
			default:
				return r, fmt.Errorf("device %s: %w", d.ID, err)
			}
		}
	}
	return r, nil
}

// isCurrent: every sealed field of d is under key cur (and the row says so).
func isCurrent(d storage.Device, cur uint32) bool {
	for _, v := range [][]byte{d.Secret, d.PublicKey} {
		if len(v) == 0 {
			continue
		}
		if id, err := datakey.SealedKeyID(v); err != nil || id != cur {
			return false
		}
	}
	return d.KeyVersion == int(cur)
}

func reseal(s *datakey.Sealer, sealed, ad []byte) ([]byte, error) {
	if len(sealed) == 0 {
		return sealed, nil
	}
	if id, err := datakey.SealedKeyID(sealed); err == nil && id == s.CurrentKeyID() {
		return sealed, nil
	}
	plain, _, err := s.Open(sealed, ad)
	if err != nil {
		return nil, err
	}
	return s.Seal(plain, ad)
}

// rotateOperatorFactors re-seals every operator's second-factor secret
// under the current key, with the same binding to operator and factor.
func rotateOperatorFactors(ctx context.Context, st storage.Store, sealer *datakey.Sealer) (rotation, error) {
	var r rotation
	ops, err := st.ListOperators(ctx)
	if err != nil {
		return r, fmt.Errorf("listing operators: %w", err)
	}
	cur := sealer.CurrentKeyID()
	for _, op := range ops {
		var failed []string
		var resealed, current int
		err := st.UpdateOperator(ctx, op.ID, func(o storage.Operator) (storage.Operator, error) {
			failed, resealed, current = nil, 0, 0
			fs := slices.Clone(o.SecondFactor.Factors)
			for i, f := range fs {
				if id, err := datakey.SealedKeyID(f.Secret); err == nil && id == cur && f.KeyVersion == int64(cur) {
					current++
					continue
				}
				v, err := reseal(sealer, f.Secret, opfactor.AD(o.ID, f.ID))
				if err != nil {
					failed = append(failed, fmt.Sprintf("operator %s factor %s: %v", o.Username, f.ID, err))
					continue
				}
				fs[i].Secret, fs[i].KeyVersion = v, int64(cur)
				resealed++
			}
			o.SecondFactor.Factors = fs
			return o, nil
		})
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return r, fmt.Errorf("operator %s: %w", op.Username, err)
		}
		r.devices += resealed + current + len(failed)
		r.resealed += resealed
		r.current += current
		r.failed = append(r.failed, failed...)
	}
	return r, nil
}
