package app

import (
	"context"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/demo"
	"github.com/spid-idp/spid-idp/idp/otp"
	"github.com/spid-idp/spid-idp/idp/regulation"
	"github.com/spid-idp/spid-idp/storage"
)

// BenchmarkLoginL2 is BenchmarkLoginL1's measurement with the second
// factor: AuthnRequest, password, then a TOTP code through to the consent
// page. The "l1" sub-benchmark repeats the level-1 login in the same run, so
// the two compare on one machine state; the goal is l2 ≤ 110% of l1.
//
// A code is single use: between iterations, outside the timer, the device's
// last accepted step is reset so the same wall-clock code is accepted again
// (the accepting update itself is measured).
func BenchmarkLoginL2(b *testing.B) {
	a, ts, info := benchApp(b)
	ctx := context.Background()
	if err := a.EnsureDemoDevice(ctx); err != nil {
		b.Fatal(err)
	}
	id, err := a.Backends.Store.GetIdentityByUsername(ctx, demo.CitizenUsername)
	if err != nil {
		b.Fatal(err)
	}
	seed, err := otp.DecodeSeed(DemoTOTPSecret())
	if err != nil {
		b.Fatal(err)
	}
	creds := url.Values{"username": {info.Username}, "password": {info.Password}, "op": {"submit"}}
	resetStep := func() {
		err := a.Backends.Store.UpdateDevice(ctx, demoDeviceID, func(d storage.Device) (storage.Device, error) {
			d.LastStep = 0
			return d, nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	_ = id
	// The login throttle (30 a minute per user and network) would stop a
	// benchmark; it is reset outside the timer like the step.
	resetThrottle := func() {
		for _, k := range []string{regulation.UserKey(info.Username), regulation.IPKey(netip.MustParseAddr("127.0.0.1"))} {
			if err := a.Backends.Eph.ResetCounter(ctx, "login:"+k); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("l1", func(b *testing.B) {
		br := newBrowser(&testing.T{})
		for b.Loop() {
			b.StopTimer()
			u := ssoURLLevel(b, br, ts.URL, "1")
			resetThrottle()
			b.StartTimer()
			consent := br.submit(br.get(u), "/login", creds)
			if !strings.Contains(consent.body, `value="accept"`) {
				b.Fatalf("login failed: %d", consent.status)
			}
		}
	})
	b.Run("l2", func(b *testing.B) {
		br := newBrowser(&testing.T{})
		for b.Loop() {
			b.StopTimer()
			u := ssoURLLevel(b, br, ts.URL, "2")
			resetStep()
			resetThrottle()
			code := otp.Code(seed, time.Now())
			b.StartTimer()
			otpPage := br.submit(br.get(u), "/login", creds)
			consent := br.submit(otpPage, "/login/otp", url.Values{"otp": {code}, "op": {"submit"}})
			if !strings.Contains(consent.body, `value="accept"`) {
				b.Fatalf("L2 login failed: %d\n%s", consent.status, consent.body)
			}
		}
	})
}

// BenchmarkSecondFactorStep is only what level 2 adds to a login: the
// code POST (seed opened, code checked, device updated atomically, audit,
// consent page), the password step running outside the timer. Compared with
// BenchmarkLoginL2/l1 it gives the overhead without the machine noise that
// the argon2id-dominated logins carry.
func BenchmarkSecondFactorStep(b *testing.B) {
	a, ts, info := benchApp(b)
	ctx := context.Background()
	if err := a.EnsureDemoDevice(ctx); err != nil {
		b.Fatal(err)
	}
	seed, err := otp.DecodeSeed(DemoTOTPSecret())
	if err != nil {
		b.Fatal(err)
	}
	creds := url.Values{"username": {info.Username}, "password": {info.Password}, "op": {"submit"}}
	br := newBrowser(&testing.T{})
	for b.Loop() {
		b.StopTimer()
		u := ssoURLLevel(b, br, ts.URL, "2")
		for _, k := range []string{regulation.UserKey(info.Username), regulation.IPKey(netip.MustParseAddr("127.0.0.1"))} {
			if err := a.Backends.Eph.ResetCounter(ctx, "login:"+k); err != nil {
				b.Fatal(err)
			}
		}
		err := a.Backends.Store.UpdateDevice(ctx, demoDeviceID, func(d storage.Device) (storage.Device, error) {
			d.LastStep = 0
			return d, nil
		})
		if err != nil {
			b.Fatal(err)
		}
		otpPage := br.submit(br.get(u), "/login", creds)
		code := otp.Code(seed, time.Now())
		b.StartTimer()
		consent := br.submit(otpPage, "/login/otp", url.Values{"otp": {code}, "op": {"submit"}})
		if !strings.Contains(consent.body, `value="accept"`) {
			b.Fatalf("code refused: %d", consent.status)
		}
	}
}
