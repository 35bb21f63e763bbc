package events

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
)

// TokenHeader carries the shared secret of the Argo CD and Jenkins routes
// (the token query parameter may carry it instead, for senders that cannot
// set headers).
const TokenHeader = "X-Restorable-Token"

// errUnauthorized is a delivery whose secret or signature is missing or
// wrong; the message says which, never what was expected.
type errUnauthorized struct{ msg string }

func (e *errUnauthorized) Error() string { return e.msg }

func unauthorized(format string, args ...any) error {
	return &errUnauthorized{msg: fmt.Sprintf(format, args...)}
}

// readSecret reads a sender's secret from a file (one trailing newline
// removed) or an environment variable. The secret is never logged: errors
// name where it was looked for, not what was found.
func readSecret(file, env string) ([]byte, error) {
	var s string
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("read secret file: %w", err)
		}
		s = strings.TrimRight(string(b), "\r\n")
	case env != "":
		v, ok := os.LookupEnv(env)
		if !ok {
			return nil, fmt.Errorf("environment variable %s is not set", env)
		}
		s = v
	}
	if s == "" {
		return nil, errors.New("the secret is empty")
	}
	return []byte(s), nil
}

// equalSecret compares in constant time: digests of equal length, so that
// neither the content nor the length of the secret leaks through timing.
func equalSecret(got string, want []byte) bool {
	a := sha256.Sum256([]byte(got))
	b := sha256.Sum256(want)
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// verify checks a delivery of sender against its secret: GitLab's
// X-Gitlab-Token, GitHub's X-Hub-Signature-256 (HMAC-SHA256 of the raw
// body), the X-Restorable-Token header or token query parameter of Argo CD
// and Jenkins.
func verify(sender string, secret []byte, r *http.Request, body []byte) error {
	switch sender {
	case "gitlab":
		tok := r.Header.Get("X-Gitlab-Token")
		if tok == "" {
			return unauthorized("X-Gitlab-Token: missing; set the webhook's secret token")
		}
		if !equalSecret(tok, secret) {
			return unauthorized("X-Gitlab-Token: does not match events.gitlab's secret")
		}
		return nil
	case "github":
		sig := r.Header.Get("X-Hub-Signature-256")
		if sig == "" {
			return unauthorized("X-Hub-Signature-256: missing; set the webhook's secret")
		}
		hexsum, ok := strings.CutPrefix(sig, "sha256=")
		got, err := hex.DecodeString(hexsum)
		if !ok || err != nil {
			return unauthorized("X-Hub-Signature-256: not of the form sha256=<hex>")
		}
		mac := hmac.New(sha256.New, secret)
		mac.Write(body)
		if !hmac.Equal(got, mac.Sum(nil)) {
			return unauthorized("X-Hub-Signature-256: the body's signature does not match events.github's secret")
		}
		return nil
	default:
		tok := r.Header.Get(TokenHeader)
		if tok == "" {
			tok = r.URL.Query().Get("token")
		}
		if tok == "" {
			return unauthorized("%s: missing (or a token query parameter)", TokenHeader)
		}
		if !equalSecret(tok, secret) {
			return unauthorized("%s: does not match events.%s's secret", TokenHeader, sender)
		}
		return nil
	}
}

// SignGitHub returns the X-Hub-Signature-256 value of body, as GitHub
// computes it; tests and load generators use it.
func SignGitHub(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}
