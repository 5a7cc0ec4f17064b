package app

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/spid-idp/spid-idp/idp/otp"
	"github.com/spid-idp/spid-idp/opfactor"
	"github.com/spid-idp/spid-idp/storage"
)

// testOperatorSeed is the authenticator seed of the operators the tests
// create; the demo operators have DemoOperatorTOTPSecret.
var testOperatorSeed = bytes.Repeat([]byte("console-seed-app"), 2)

// giveOperatorTOTP registers an authenticator app with testOperatorSeed for
// the operator, as if enrolled earlier with a supervisor's code.
func giveOperatorTOTP(t testing.TB, a *App, operatorID string) {
	t.Helper()
	f, err := a.OperatorFactors()
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := f.Sealer.Seal(testOperatorSeed, opfactor.AD(operatorID, "totp-test"))
	if err != nil {
		t.Fatal(err)
	}
	err = a.Backends.Store.UpdateOperator(context.Background(), operatorID, func(o storage.Operator) (storage.Operator, error) {
		o.SecondFactor.Factors = []storage.OperatorFactor{{ID: "totp-test", Kind: storage.FactorTOTP, Name: "App",
			Secret: sealed, KeyVersion: int64(f.Sealer.CurrentKeyID()), CreatedAt: time.Now().UTC()}}
		return o, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// operatorCode is the operator's current authenticator code, made usable
// again: two logins of one operator in the same 30 seconds would otherwise
// replay a code, which the console rightly refuses.
func operatorCode(t testing.TB, a *App, operatorID string, seed []byte) string {
	t.Helper()
	err := a.Backends.Store.UpdateOperator(context.Background(), operatorID, func(o storage.Operator) (storage.Operator, error) {
		for i := range o.SecondFactor.Factors {
			o.SecondFactor.Factors[i].LastStep = 0
		}
		return o, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return otp.Code(seed, time.Now())
}

// demoOperatorCode is operatorCode for a demo operator.
func demoOperatorCode(t testing.TB, a *App, username string) string {
	t.Helper()
	seed, err := otp.DecodeSeed(DemoOperatorTOTPSecret())
	if err != nil {
		t.Fatal(err)
	}
	return operatorCode(t, a, "demo-op-"+username, seed)
}

// browserFactor types the authenticator code on the console's
// second-factor page.
func browserFactor(code string) []chromedp.Action[chromedp.Void] {
	return []chromedp.Action[chromedp.Void]{
		chromedp.WaitVisible(`#otp`),
		chromedp.SendKeys(`#otp`, code),
		chromedp.Click(`button[name="op"][value="totp"]`),
		chromedp.WaitNotPresent(`#otp`),
	}
}
