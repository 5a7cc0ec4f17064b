package authflow

import (
	"testing"

	"github.com/spid-idp/spid-idp/idp/spid"
)

// TestPolicy is spec §3.5's table, cell by cell.
func TestLevels(t *testing.T) {
	type result struct {
		p  LevelPolicy
		a  spid.Anomaly
		ok bool
	}
	ok := func(min, max spid.Level) result { return result{LevelPolicy{min, max}, 0, true} }
	no := func(a spid.Anomaly) result { return result{LevelPolicy{}, a, false} }
	cases := []struct {
		level spid.Level
		cmp   string
		want  result
	}{
		{spid.L1, "exact", ok(spid.L1, spid.L2)},
		{spid.L1, "", ok(spid.L1, spid.L2)},
		{spid.L1, "minimum", ok(spid.L1, spid.L2)},
		{spid.L1, "better", ok(spid.L2, spid.L2)},
		{spid.L1, "maximum", ok(spid.L1, spid.L1)},
		{spid.L2, "exact", ok(spid.L2, spid.L2)},
		{spid.L2, "minimum", ok(spid.L2, spid.L2)},
		{spid.L2, "better", no(spid.NrLevelUnavailable)},
		{spid.L2, "maximum", ok(spid.L2, spid.L2)},
		{spid.L3, "exact", no(spid.NrLevelUnavailable)},
		{spid.L3, "minimum", no(spid.NrLevelUnavailable)},
		{spid.L3, "better", no(spid.NrAuthnContext)},
		{spid.L3, "maximum", ok(spid.L2, spid.L2)},
		{spid.L2, "strongest", no(spid.NrNotCompliant)},
		{spid.Level(4), "exact", no(spid.NrAuthnContext)},
	}
	for _, c := range cases {
		p, a, ok := Levels(c.level, c.cmp)
		if p != c.want.p || a != c.want.a || ok != c.want.ok {
			t.Errorf("Levels(L%d, %q) = %v %v %v, want %v", c.level, c.cmp, p, a, ok, c.want)
		}
	}
}

func TestDeliveredLevel(t *testing.T) {
	cases := []struct {
		level     spid.Level
		cmp       string
		performed spid.Level
		want      spid.Level
		anomaly   spid.Anomaly
	}{
		{spid.L1, "exact", spid.L1, spid.L1, 0},
		{spid.L1, "exact", spid.L2, spid.L2, 0}, // the user chose the stronger method
		{spid.L1, "minimum", spid.L2, spid.L2, 0},
		{spid.L1, "better", spid.L1, 0, spid.NrLevelUnavailable},
		{spid.L1, "better", spid.L2, spid.L2, 0},
		{spid.L1, "maximum", spid.L2, 0, spid.NrLevelUnavailable},
		{spid.L2, "exact", spid.L1, 0, spid.NrLevelUnavailable},
		{spid.L2, "minimum", spid.L2, spid.L2, 0},
		{spid.L2, "better", spid.L2, 0, spid.NrLevelUnavailable},
		{spid.L3, "maximum", spid.L2, spid.L2, 0},
		{spid.L3, "exact", spid.L2, 0, spid.NrLevelUnavailable},
		{spid.L3, "better", spid.L2, 0, spid.NrAuthnContext},
	}
	for _, c := range cases {
		got, a, ok := DeliveredLevel(c.level, c.cmp, c.performed)
		if got != c.want || a != c.anomaly || ok != (c.anomaly == 0) {
			t.Errorf("DeliveredLevel(L%d, %s, L%d) = L%d %v %v, want L%d %v", c.level, c.cmp, c.performed, got, a, ok, c.want, c.anomaly)
		}
	}
}

func TestSSOAllowed(t *testing.T) {
	l1, _, _ := Levels(spid.L1, "minimum")
	l2, _, _ := Levels(spid.L2, "minimum")
	l1better, _, _ := Levels(spid.L1, "better")
	if !l1.SSOAllowed(false) || l1.SSOAllowed(true) || l2.SSOAllowed(false) || l1better.SSOAllowed(false) {
		t.Fatal("SSO reuse allowed where §3.5/§7.1 forbid it, or refused where allowed")
	}
}
