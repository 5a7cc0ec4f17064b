package console

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/enrolment"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/templates"
)

// The supervisor's page of the operators' second factors (security.md
// E.1): an operator who lost their passkey or phone gets a new one-time
// enrolment code, their factors removed. The same as `spid-idp operator
// reset-factor`, for supervisors without a shell. A supervisor never resets
// their own factor here: that would let a stolen supervisor password
// replace the factor that guards it.

const pathOperators = "/console/operators"

// operatorsPage lists the active operators and their factors.
func (c *Console) operatorsPage(w http.ResponseWriter, r *http.Request, o *operatorCtx) {
	c.renderOperators(w, r, o, http.StatusOK, "", "", "")
}

func (c *Console) renderOperators(w http.ResponseWriter, r *http.Request, o *operatorCtx, status int, code, codeFor, errText string) {
	if !o.has(enrolment.RoleSupervisor) {
		c.record(r.Context(), o.op.ID, "console.operators", "", audit.Denied, map[string]string{"reason": "role"})
		c.forbidden(w, r, o, enrolment.ErrForbidden, Prefix)
		return
	}
	ops, err := c.Store.ListOperators(r.Context())
	if err != nil {
		c.fail(w, err)
		return
	}
	p := templates.ConsoleOperatorsPage{ConsoleFrame: c.frame(o), Code: code, CodeFor: codeFor}
	p.Error = errText
	for _, x := range ops {
		if x.Status != storage.OperatorActive {
			continue
		}
		row := templates.ConsoleOperatorRow{Username: x.Username, Name: x.Name, Factors: factorSummary(o.lang, x)}
		if x.ID != o.op.ID {
			row.Action = pathOperators + "/" + x.ID + "/reset-factor"
		}
		p.Rows = append(p.Rows, row)
	}
	c.render(w, status, templates.PageConsoleOperators, o.lang, p)
}

// factorSummary says what an operator holds, in the page's language.
func factorSummary(lang string, op storage.Operator) string {
	n := map[string]int{}
	for _, f := range op.SecondFactor.Factors {
		n[f.Kind]++
	}
	var parts []string
	if k := n[storage.FactorWebAuthn]; k > 0 {
		parts = append(parts, "passkey ×"+strconv.Itoa(k))
	}
	if k := n[storage.FactorTOTP]; k > 0 {
		parts = append(parts, msg(lang, "app ×", "app ×")+strconv.Itoa(k))
	}
	if op.SecondFactor.EnrolCodeHash != "" {
		parts = append(parts, msg(lang, "codice di registrazione in attesa", "enrolment code waiting"))
	}
	if len(parts) == 0 {
		return msg(lang, "nessuno", "none")
	}
	return strings.Join(parts, ", ")
}

// resetFactor removes the target's factors and shows a new enrolment code
// once. Audited as operator.factor_code, like the command.
func (c *Console) resetFactor(w http.ResponseWriter, r *http.Request, o *operatorCtx) {
	ctx := r.Context()
	id := r.PathValue("id")
	if !o.has(enrolment.RoleSupervisor) || id == o.op.ID {
		why := "role"
		if id == o.op.ID {
			why = "own factor"
		}
		c.record(ctx, o.op.ID, "operator.factor_code", id, audit.Denied, map[string]string{"reason": why})
		c.forbidden(w, r, o, enrolment.ErrForbidden, pathOperators)
		return
	}
	target, err := c.Store.GetOperator(ctx, id)
	if errors.Is(err, storage.ErrNotFound) || err == nil && target.Status != storage.OperatorActive {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		c.fail(w, err)
		return
	}
	reason := oneLine(strings.TrimSpace(r.PostFormValue("reason")), 200)
	if reason == "" {
		c.renderOperators(w, r, o, http.StatusBadRequest, "", "", msg(o.lang, "Indica il motivo.", "Give the reason."))
		return
	}
	code, err := c.Factors.IssueEnrolCode(ctx, id, o.op.ID, true)
	details := map[string]string{"username": target.Username, "reset": "true", "reason": reason,
		"factors_removed": strconv.Itoa(len(target.SecondFactor.Factors)), "channel": "console"}
	if err != nil {
		details["error"] = err.Error()
		c.record(ctx, o.op.ID, "operator.factor_code", id, audit.Failure, details)
		c.fail(w, err)
		return
	}
	c.record(ctx, o.op.ID, "operator.factor_code", id, audit.Success, details)
	// Shown in this answer only (no redirect: the code must not travel in
	// a URL or be shown again by a reload).
	c.renderOperators(w, r, o, http.StatusOK, code, target.Username, "")
}
