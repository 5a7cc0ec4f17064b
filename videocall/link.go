package videocall

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// LinkLifetime is how long a booking link works (§13: 90 days), as long
// as the request waits for recognition.
const LinkLifetime = 90 * 24 * time.Hour

// Link is the applicant's booking page of a request: a capability (the
// request is named only inside a signed token), e-mailed and shown after
// submission and on the status page.
func (s *Service) Link(requestID string) (string, error) {
	tok, err := s.token(requestID, s.now().Add(LinkLifetime))
	if err != nil {
		return "", err
	}
	return strings.TrimRight(s.BaseURL, "/") + PathBooking + "?t=" + tok, nil
}

func (s *Service) token(requestID string, exp time.Time) (string, error) {
	if len(s.LinkKey) < 32 {
		return "", errors.New("videocall: link key shorter than 32 bytes")
	}
	if requestID == "" || strings.Contains(requestID, ".") {
		return "", errors.New("videocall: request ID unfit for a link")
	}
	body := base64.RawURLEncoding.EncodeToString([]byte(requestID)) + "." + strconv.FormatInt(exp.Unix(), 36)
	return body + "." + s.sign(body), nil
}

func (s *Service) sign(body string) string {
	m := hmac.New(sha256.New, s.LinkKey)
	m.Write([]byte("spid-idp/videocall/link/v1\x00" + body))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// ErrBadLink: a booking link that is altered or expired.
var ErrBadLink = errors.New("videocall: booking link not valid")

// request returns the request a token names, if it is genuine and current.
func (s *Service) request(tok string) (string, error) {
	if len(tok) > 300 || len(s.LinkKey) < 32 {
		return "", ErrBadLink
	}
	i := strings.LastIndexByte(tok, '.')
	if i < 0 {
		return "", ErrBadLink
	}
	body, mac := tok[:i], tok[i+1:]
	if !hmac.Equal([]byte(mac), []byte(s.sign(body))) {
		return "", ErrBadLink
	}
	idPart, expPart, ok := strings.Cut(body, ".")
	if !ok {
		return "", ErrBadLink
	}
	exp, err := strconv.ParseInt(expPart, 36, 64)
	if err != nil || !s.now().Before(time.Unix(exp, 0)) {
		return "", ErrBadLink
	}
	id, err := base64.RawURLEncoding.DecodeString(idPart)
	if err != nil || len(id) == 0 {
		return "", ErrBadLink
	}
	return string(id), nil
}
