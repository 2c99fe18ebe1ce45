// Package webhook signs and verifies hookbook webhooks.
//
// It depends on the standard library only, so receivers can import it
// without pulling in the rest of hookbook.
//
// Every delivery carries two independent signatures:
//
//   - The Standard Webhooks signature (headers webhook-id, webhook-timestamp,
//     webhook-signature): "v1," + base64(HMAC-SHA256(key, id.timestamp.body)),
//     where key is the base64-decoded part of a "whsec_" secret, or the
//     secret's bytes otherwise. During a secret rotation the header holds
//     several space-separated signatures; any one of them may match.
//     Receivers may also verify it with the Standard Webhooks or Svix libraries.
//     Endpoints that sign with ed25519 send "v1a" signatures instead, which
//     receivers verify with a public key alone (see ed25519.go:
//     PublicKeyVerifier, SignHeadersEd25519), and no brand signature.
//   - The brand signature (header X-Hookbook-Signature, or another prefix):
//     "sha256=" + hex(HMAC-SHA256(secret as given, timestamp.body)), or over
//     the body alone for endpoints using the "body" signature scheme.
//
// Inbound commands sent to hookbook are signed with the brand recipe.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header names of the Standard Webhooks specification.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// DefaultTolerance is how far a timestamp may lie from the receiver's clock.
const DefaultTolerance = 5 * time.Minute

// SecretPrefix marks secrets whose key is the base64 text that follows it.
const SecretPrefix = "whsec_"

// Errors returned by the verifiers. Wrapped errors keep these as causes, so
// callers can test them with errors.Is.
var (
	ErrMissingHeader     = errors.New("webhook: missing signature header")
	ErrInvalidTimestamp  = errors.New("webhook: invalid timestamp")
	ErrTimestampTooOld   = errors.New("webhook: timestamp too old")
	ErrTimestampTooNew   = errors.New("webhook: timestamp too far in the future")
	ErrNoMatchingSig     = errors.New("webhook: no matching signature")
	ErrInvalidSecret     = errors.New("webhook: invalid secret")
	ErrMalformedSigField = errors.New("webhook: malformed signature")
)

// Key returns the HMAC key of a Standard Webhooks secret: the base64-decoded
// text after "whsec_", or the secret's own bytes when it has no such prefix.
func Key(secret string) ([]byte, error) {
	if rest, ok := strings.CutPrefix(secret, SecretPrefix); ok {
		key, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidSecret, err)
		}
		return key, nil
	}
	if secret == "" {
		return nil, ErrInvalidSecret
	}
	return []byte(secret), nil
}

// Sign returns the Standard Webhooks signature "v1,<base64>" of payload sent
// as message msgID at timestamp.
func Sign(secret, msgID string, timestamp time.Time, payload []byte) (string, error) {
	key, err := Key(secret)
	if err != nil {
		return "", err
	}
	return "v1," + base64.StdEncoding.EncodeToString(stdMAC(key, msgID, timestamp.Unix(), payload)), nil
}

func stdMAC(key []byte, msgID string, ts int64, payload []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msgID))
	m.Write([]byte{'.'})
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte{'.'})
	m.Write(payload)
	return m.Sum(nil)
}

// Verifier checks the Standard Webhooks headers of a request.
// The zero value is not usable: set at least one secret.
type Verifier struct {
	// Secrets that may have signed the message; during a rotation a
	// receiver may list both the old and the new one.
	Secrets []string
	// Tolerance is the largest accepted difference between the timestamp
	// and Now. Zero means DefaultTolerance; a negative value disables the check.
	Tolerance time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// header returns a header's first value whether h holds its name in
// canonical form (as net/http fills it) or as written (as SignHeaders, or a
// map built from another source, holds it).
func header(h http.Header, name string) string {
	if v := h.Get(name); v != "" {
		return v
	}
	if v := h[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Verify checks the webhook-id, webhook-timestamp and webhook-signature
// headers against payload, the raw request body. It returns nil when one of
// the header's signatures matches one of the secrets, compared in constant time.
func (v *Verifier) Verify(h http.Header, payload []byte) error {
	id, tsText, sigs := header(h, HeaderID), header(h, HeaderTimestamp), header(h, HeaderSignature)
	if id == "" || tsText == "" || sigs == "" {
		return ErrMissingHeader
	}
	ts, err := v.checkTimestamp(tsText)
	if err != nil {
		return err
	}
	for _, secret := range v.Secrets {
		key, err := Key(secret)
		if err != nil {
			return err
		}
		want := stdMAC(key, id, ts, payload)
		for _, field := range strings.Fields(sigs) {
			version, b64, ok := strings.Cut(field, ",")
			if !ok || version != "v1" {
				continue
			}
			got, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				continue
			}
			if hmac.Equal(got, want) {
				return nil
			}
		}
	}
	return ErrNoMatchingSig
}

func (v *Verifier) checkTimestamp(text string) (int64, error) {
	return CheckTimestamp(text, v.Tolerance, v.now())
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// CheckTimestamp parses text as unix seconds and checks that it lies within
// tolerance of now (zero tolerance means DefaultTolerance, negative disables).
func CheckTimestamp(text string, tolerance time.Duration, now time.Time) (int64, error) {
	ts, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
	if err != nil {
		return 0, ErrInvalidTimestamp
	}
	if tolerance == 0 {
		tolerance = DefaultTolerance
	}
	if tolerance > 0 {
		diff := now.Unix() - ts
		if diff > int64(tolerance/time.Second) {
			return 0, ErrTimestampTooOld
		}
		if -diff > int64(tolerance/time.Second) {
			return 0, ErrTimestampTooNew
		}
	}
	return ts, nil
}

// Verify checks a request's Standard Webhooks headers with one secret and the
// default tolerance.
func Verify(secret string, h http.Header, payload []byte) error {
	v := Verifier{Secrets: []string{secret}}
	return v.Verify(h, payload)
}

// SignHMAC returns the brand signature "sha256=<hex>" of HMAC-SHA256 keyed
// with the secret string as given, over "timestamp.payload".
func SignHMAC(secret string, timestamp int64, payload []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(timestamp, 10)))
	m.Write([]byte{'.'})
	m.Write(payload)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// SignBody returns the brand signature "sha256=<hex>" over the payload alone,
// as sent to endpoints using the "body" signature scheme.
func SignBody(secret string, payload []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(payload)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// SignBodyHex returns the bare lowercase hex HMAC-SHA256 of the payload,
// keyed with the secret string as given: the "body_hex" scheme.
func SignBodyHex(secret string, payload []byte) string {
	return strings.TrimPrefix(SignBody(secret, payload), "sha256=")
}

// VerifyBodyHex checks a "body_hex" scheme brand signature against payload,
// in constant time.
func VerifyBodyHex(secret, signature string, payload []byte) error {
	if signature == "" {
		return ErrMissingHeader
	}
	return compareHex("sha256="+strings.TrimSpace(signature), SignBody(secret, payload))
}

// VerifyHMAC checks a brand signature header ("sha256=<hex>") against
// timestamp (unix seconds, as text) and payload, in constant time. The
// timestamp must lie within tolerance of now (see CheckTimestamp).
func VerifyHMAC(secret, signature, timestamp string, payload []byte, tolerance time.Duration, now time.Time) error {
	if signature == "" || timestamp == "" {
		return ErrMissingHeader
	}
	ts, err := CheckTimestamp(timestamp, tolerance, now)
	if err != nil {
		return err
	}
	return compareHex(signature, SignHMAC(secret, ts, payload))
}

// VerifyBody checks a "body" scheme brand signature against payload.
func VerifyBody(secret, signature string, payload []byte) error {
	if signature == "" {
		return ErrMissingHeader
	}
	return compareHex(signature, SignBody(secret, payload))
}

func compareHex(got, want string) error {
	gotHex, ok := strings.CutPrefix(strings.TrimSpace(got), "sha256=")
	if !ok {
		return ErrMalformedSigField
	}
	g, err := hex.DecodeString(gotHex)
	if err != nil {
		return ErrMalformedSigField
	}
	w, _ := hex.DecodeString(strings.TrimPrefix(want, "sha256="))
	if !hmac.Equal(g, w) {
		return ErrNoMatchingSig
	}
	return nil
}
