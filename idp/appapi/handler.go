// Package appapi is the HTTP API the citizen's app talks to, mounted at
// /app/v1/: activation of a device with a one-time code, then, with every
// request signed by the device key (see Scheme), the pending push
// challenges (long poll) and the decisions on them.
package appapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spid-idp/spid-idp/audit"
	"github.com/spid-idp/spid-idp/idp/otp"
	"github.com/spid-idp/spid-idp/idp/push"
	"github.com/spid-idp/spid-idp/keys/datakey"
	"github.com/spid-idp/spid-idp/server/requestctx"
	"github.com/spid-idp/spid-idp/storage"
)

// Prefix is where the lead mounts the handler, without StripPrefix: the
// device signs the full path.
const Prefix = "/app/v1/"

// Defaults.
const (
	// DefaultMaxWait caps a long poll below the server's 30 s WriteTimeout.
	DefaultMaxWait      = 25 * time.Second
	DefaultPollInterval = 500 * time.Millisecond
	// Activation attempts per client address per 10 minutes: codes have 60
	// bits, so this only keeps a scanner from filling the audit log.
	DefaultActivationLimit = 20
	maxBody                = 8 << 10
	maxNameRunes           = 64
)

// Config holds what the handler needs; every field without a default is
// required.
type Config struct {
	Push      *push.Service
	Devices   storage.Devices
	Values    storage.Values    // activation codes
	Ephemeral storage.Ephemeral // replay cache and activation rate limit
	Sealer    *datakey.Sealer
	Audit     *audit.Logger
	Issuer    string // the IdP's name, as in the otpauth URI
	// Identities, when set, names the account in the app (the username);
	// otherwise the account is the identity ID.
	Identities interface {
		GetIdentity(ctx context.Context, id string) (storage.Identity, error)
	}
	Log             *slog.Logger
	Now             func() time.Time
	MaxWait         time.Duration
	PollInterval    time.Duration
	ActivationLimit int
}

// Handler serves the app API.
type Handler struct {
	c      Config
	verify *Verifier
	mux    *http.ServeMux
}

// New checks cfg and builds the handler.
func New(cfg Config) (*Handler, error) {
	var missing []string
	if cfg.Push == nil {
		missing = append(missing, "Push")
	}
	if cfg.Devices == nil {
		missing = append(missing, "Devices")
	}
	if cfg.Values == nil {
		missing = append(missing, "Values")
	}
	if cfg.Ephemeral == nil {
		missing = append(missing, "Ephemeral")
	}
	if cfg.Sealer == nil {
		missing = append(missing, "Sealer")
	}
	if cfg.Audit == nil {
		missing = append(missing, "Audit")
	}
	if cfg.Issuer == "" {
		missing = append(missing, "Issuer")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("appapi: missing %s", strings.Join(missing, ", "))
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = DefaultMaxWait
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.ActivationLimit <= 0 {
		cfg.ActivationLimit = DefaultActivationLimit
	}
	h := &Handler{c: cfg, mux: http.NewServeMux()}
	h.verify = &Verifier{Devices: cfg.Devices, Sealer: cfg.Sealer, Replay: cfg.Ephemeral, Now: cfg.Now}
	h.mux.HandleFunc(Prefix+"activate", h.only(http.MethodPost, h.activate))
	h.mux.HandleFunc(Prefix+"challenges", h.only(http.MethodGet, h.challenges))
	h.mux.HandleFunc(Prefix+"challenges/{id}", h.only(http.MethodPost, h.decide))
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint")
	})
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) only(method string, fn http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method {
			w.Header().Set("Allow", method)
			writeError(w, http.StatusMethodNotAllowed, "method not allowed")
			return
		}
		fn(w, r)
	}
}

type errorBody struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", Scheme)
	}
	writeJSON(w, status, errorBody{Error: msg})
}

// readBody reads at most maxBody bytes.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "request body too large")
		} else {
			writeError(w, http.StatusBadRequest, "cannot read the request body")
		}
		return nil, false
	}
	return b, true
}

func decodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// authenticate verifies the device and answers 401 itself on failure.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request, body []byte) (storage.Device, bool) {
	d, err := h.verify.Verify(r, body)
	if err == nil {
		return d, true
	}
	if errors.Is(err, ErrUnauthorized) {
		h.c.Log.WarnContext(r.Context(), "app request refused", "path", r.URL.Path, "reason", err.Error())
		writeError(w, http.StatusUnauthorized, err.Error())
	} else {
		h.c.Log.ErrorContext(r.Context(), "app request authentication", "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
	}
	return storage.Device{}, false
}

// ActivateRequest is the body of POST /app/v1/activate.
type ActivateRequest struct {
	ActivationCode string `json:"activation_code"`
	Name           string `json:"name"`
	PublicKey      string `json:"public_key"` // base64 PKIX DER, ECDSA P-256
}

// ActivateResponse is its answer: what the app needs to show codes.
type ActivateResponse struct {
	DeviceID   string `json:"device_id"`
	TOTPSecret string `json:"totp_secret"` // base32, no padding
	Issuer     string `json:"issuer"`
	Account    string `json:"account"`
	Digits     int    `json:"digits"`
	Period     int    `json:"period"`
	Algorithm  string `json:"algorithm"`
}

var errActivation = errors.New("unknown, used or expired activation code")

func (h *Handler) activate(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if ip := requestctx.ClientIP(ctx); ip != "" {
		n, err := h.c.Ephemeral.Incr(ctx, "appactivate:"+ip, 10*time.Minute)
		if err != nil {
			h.c.Log.ErrorContext(ctx, "activation rate limit", "err", err)
			writeError(w, http.StatusInternalServerError, "internal error")
			return
		}
		if n > int64(h.c.ActivationLimit) {
			writeError(w, http.StatusTooManyRequests, "too many activation attempts; try again in a few minutes")
			return
		}
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	var req ActivateRequest
	if err := decodeJSON(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "malformed JSON: "+err.Error())
		return
	}
	name := strings.TrimSpace(req.Name)
	if utf8.RuneCountInString(name) > maxNameRunes || !utf8.ValidString(name) || strings.IndexFunc(name, unicode.IsControl) >= 0 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("name must be at most %d printable characters", maxNameRunes))
		return
	}
	der, err := base64.StdEncoding.DecodeString(req.PublicKey)
	if err != nil {
		writeError(w, http.StatusBadRequest, "public_key is not base64")
		return
	}
	if _, err := push.ParsePublicKey(der); err != nil {
		writeError(w, http.StatusBadRequest, "public_key must be a PKIX DER ECDSA P-256 key")
		return
	}
	resp, identityID, err := h.claim(ctx, req.ActivationCode, name, der)
	details := map[string]string{"name": name}
	switch {
	case err == nil:
		if aerr := h.c.Audit.Record(ctx, storage.AuditEvent{Actor: identityID, Action: "app.activate",
			Target: resp.DeviceID, Outcome: audit.Success, Details: details}); aerr != nil {
			h.c.Log.ErrorContext(ctx, "audit", "err", aerr)
			writeError(w, http.StatusInternalServerError, "internal error")
			return
		}
		writeJSON(w, http.StatusOK, resp)
	case errors.Is(err, errActivation):
		actor := identityID
		if actor == "" {
			actor = "anonymous"
		}
		details["reason"] = err.Error()
		if aerr := h.c.Audit.Record(ctx, storage.AuditEvent{Actor: actor, Action: "app.activate",
			Target: resp.DeviceID, Outcome: audit.Failure, Details: details}); aerr != nil {
			h.c.Log.ErrorContext(ctx, "audit", "err", aerr)
		}
		writeError(w, http.StatusBadRequest, err.Error())
	default:
		h.c.Log.ErrorContext(ctx, "activation", "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
	}
}

// claim spends the activation code and binds the public key to its device.
// It opens the seed before spending the code, so a server-side failure
// does not waste the citizen's code.
func (h *Handler) claim(ctx context.Context, code, name string, der []byte) (ActivateResponse, string, error) {
	var resp ActivateResponse
	key := activationKey(code)
	b, _, err := h.c.Values.GetValue(ctx, key)
	if errors.Is(err, storage.ErrNotFound) {
		return resp, "", errActivation
	}
	if err != nil {
		return resp, "", fmt.Errorf("read activation: %w", err)
	}
	var act activation
	if err := json.Unmarshal(b, &act); err != nil {
		return resp, "", fmt.Errorf("decode activation: %w", err)
	}
	resp.DeviceID = act.DeviceID
	d, err := h.c.Devices.GetDevice(ctx, act.DeviceID)
	if errors.Is(err, storage.ErrNotFound) {
		return resp, act.IdentityID, fmt.Errorf("%w (device removed)", errActivation)
	}
	if err != nil {
		return resp, act.IdentityID, fmt.Errorf("read device: %w", err)
	}
	if err := claimable(d, act); err != nil {
		return resp, act.IdentityID, err
	}
	seed, _, err := h.c.Sealer.Open(d.Secret, push.SeedAD(d.IdentityID, d.ID))
	if err != nil {
		return resp, act.IdentityID, fmt.Errorf("open seed of device %s: %w", d.ID, err)
	}
	sealedKey, err := h.c.Sealer.Seal(der, push.PublicKeyAD(d.IdentityID, d.ID))
	if err != nil {
		return resp, act.IdentityID, fmt.Errorf("seal device key: %w", err)
	}
	// Deleting is the claim: exactly one of two concurrent activations
	// deletes the value.
	if err := h.c.Values.DeleteValue(ctx, key); errors.Is(err, storage.ErrNotFound) {
		return resp, act.IdentityID, errActivation
	} else if err != nil {
		return resp, act.IdentityID, fmt.Errorf("spend activation: %w", err)
	}
	now := h.c.Now().UTC()
	err = h.c.Devices.UpdateDevice(ctx, d.ID, func(cur storage.Device) (storage.Device, error) {
		if err := claimable(cur, act); err != nil {
			return cur, err
		}
		cur.Kind = storage.DevicePush
		cur.PublicKey = sealedKey
		if name != "" {
			cur.Name = name
		}
		cur.UpdatedAt = now
		return cur, nil
	})
	if err != nil {
		return resp, act.IdentityID, err
	}
	account := act.IdentityID
	if h.c.Identities != nil {
		if id, err := h.c.Identities.GetIdentity(ctx, act.IdentityID); err == nil && id.Username != "" {
			account = id.Username
		}
	}
	resp.TOTPSecret = otp.EncodeSeed(seed)
	resp.Issuer, resp.Account = h.c.Issuer, account
	resp.Digits, resp.Period, resp.Algorithm = otp.Digits, int(otp.Period/time.Second), "SHA1"
	return resp, act.IdentityID, nil
}

// claimable: the code names a pending device of its identity that has no
// key yet (a device is claimed once).
func claimable(d storage.Device, act activation) error {
	switch {
	case d.IdentityID != act.IdentityID:
		return fmt.Errorf("%w (device of another identity)", errActivation)
	case d.Status != storage.DevicePending:
		return fmt.Errorf("%w (device no longer pending)", errActivation)
	case len(d.PublicKey) != 0:
		return fmt.Errorf("%w (device already claimed)", errActivation)
	}
	return nil
}

// ChallengeJSON is one challenge as the app sees it: never the number.
type ChallengeJSON struct {
	ID        string    `json:"id"`
	SPName    string    `json:"sp_name"`
	Level     int       `json:"level"`
	Options   [3]int    `json:"options"`
	ExpiresAt time.Time `json:"expires_at"`
}

// ChallengesResponse is the body of GET /app/v1/challenges.
type ChallengesResponse struct {
	Challenges []ChallengeJSON `json:"challenges"`
}

func (h *Handler) challenges(w http.ResponseWriter, r *http.Request) {
	d, ok := h.authenticate(w, r, nil)
	if !ok {
		return
	}
	wait := time.Duration(0)
	if s := r.URL.Query().Get("wait"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 30 {
			writeError(w, http.StatusBadRequest, "wait must be whole seconds from 0 to 30")
			return
		}
		wait = min(time.Duration(n)*time.Second, h.c.MaxWait)
	}
	ctx := r.Context()
	deadline := time.Now().Add(wait)
	var tick *time.Ticker
	for {
		list, err := h.c.Push.Pending(ctx, d.ID)
		if errors.Is(err, push.ErrDevice) {
			writeError(w, http.StatusUnauthorized, "device unknown or revoked")
			return
		}
		if err != nil {
			h.c.Log.ErrorContext(ctx, "pending challenges", "err", err)
			writeError(w, http.StatusInternalServerError, "internal error")
			return
		}
		if len(list) > 0 || !time.Now().Before(deadline) {
			out := ChallengesResponse{Challenges: make([]ChallengeJSON, 0, len(list))}
			for _, c := range list {
				out.Challenges = append(out.Challenges, ChallengeJSON{ID: c.ID, SPName: c.SPName,
					Level: c.Level, Options: c.Options, ExpiresAt: c.Expires})
			}
			writeJSON(w, http.StatusOK, out)
			return
		}
		if tick == nil {
			tick = time.NewTicker(h.c.PollInterval)
			defer tick.Stop()
		}
		select {
		case <-ctx.Done():
			return // the app hung up
		case <-tick.C:
		}
	}
}

// DecisionRequest is the body of POST /app/v1/challenges/{id}.
type DecisionRequest struct {
	Decision  string `json:"decision"` // "approve" or "deny"
	Number    int    `json:"number"`
	Signature string `json:"signature"` // base64 ASN.1 ECDSA of push.DecisionMessage
}

func (h *Handler) decide(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	d, err := h.verify.Verify(r, body)
	if err != nil {
		if errors.Is(err, ErrUnauthorized) {
			// Refused decisions are audited too; the actor is who the
			// header claims to be, unproven.
			details := map[string]string{"reason": err.Error()}
			if a, perr := ParseAuthorization(r.Header.Get("Authorization")); perr == nil {
				details["claimed_device"] = a.DeviceID
			}
			if aerr := h.c.Audit.Record(ctx, storage.AuditEvent{Actor: "anonymous", Action: "push.decide",
				Target: id, Outcome: audit.Denied, Details: details}); aerr != nil {
				h.c.Log.ErrorContext(ctx, "audit", "err", aerr)
			}
			writeError(w, http.StatusUnauthorized, err.Error())
		} else {
			h.c.Log.ErrorContext(ctx, "app request authentication", "err", err)
			writeError(w, http.StatusInternalServerError, "internal error")
		}
		return
	}
	var req DecisionRequest
	if err := decodeJSON(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "malformed JSON: "+err.Error())
		return
	}
	if req.Decision != push.DecisionApprove && req.Decision != push.DecisionDeny {
		writeError(w, http.StatusBadRequest, `decision must be "approve" or "deny"`)
		return
	}
	sig, err := base64.StdEncoding.DecodeString(req.Signature)
	if err != nil || len(sig) == 0 {
		writeError(w, http.StatusBadRequest, "signature must be base64")
		return
	}
	err = h.c.Push.Decide(ctx, d.ID, id, req.Decision == push.DecisionApprove, req.Number, sig)
	status, msg := decisionStatus(err)
	if status == http.StatusInternalServerError {
		h.c.Log.ErrorContext(ctx, "push decision", "err", err)
	}
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	writeError(w, status, msg)
}

func decisionStatus(err error) (int, string) {
	switch {
	case err == nil:
		return http.StatusNoContent, ""
	case errors.Is(err, push.ErrWrongNumber):
		return http.StatusUnprocessableEntity, "wrong number: the login was refused"
	case errors.Is(err, push.ErrNotFound):
		return http.StatusNotFound, "no such challenge"
	case errors.Is(err, push.ErrExpired):
		return http.StatusGone, "the challenge has expired"
	case errors.Is(err, push.ErrDecided):
		return http.StatusConflict, "the challenge was already decided"
	case errors.Is(err, push.ErrWrongDevice):
		return http.StatusForbidden, "the challenge is not for this device"
	case errors.Is(err, push.ErrBadSignature):
		return http.StatusForbidden, "the decision's signature does not verify"
	case errors.Is(err, push.ErrDevice):
		return http.StatusUnauthorized, "device not active: revoked, or not yet confirmed with a first code on the activation page"
	}
	return http.StatusInternalServerError, "internal error"
}
