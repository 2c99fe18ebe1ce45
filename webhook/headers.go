package webhook

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Schemes of the brand signature header.
const (
	// SchemeTimestamped signs "{timestamp}.{body}": "sha256=" + hex.
	SchemeTimestamped = "timestamped"
	// SchemeBody signs the body alone: "sha256=" + hex.
	SchemeBody = "body"
	// SchemeBodyHex signs the body alone: the bare lowercase hex, for
	// receivers that compare the header with hmac.digest("hex").
	SchemeBodyHex = "body_hex"
)

// DefaultPrefix is the prefix of the brand headers unless configured.
const DefaultPrefix = "X-Hookbook"

// SignHeaders sets on h the signature headers of one request carrying
// payload, message id msgID, sent at now:
//
//   - webhook-id, webhook-timestamp and webhook-signature, with one
//     signature per secret in secrets (the newest first), space-separated;
//   - {prefix}-Timestamp and {prefix}-Signature, the brand signature with
//     the newest secret (secrets[0]) in the given scheme.
//
// The Standard Webhooks names are set in lower case exactly as the
// specification writes them.
func SignHeaders(h http.Header, prefix, scheme, msgID string, now time.Time, payload []byte, secrets []string) error {
	if len(secrets) == 0 {
		return fmt.Errorf("%w: no secret", ErrInvalidSecret)
	}
	ts := now.Unix()
	tsText := strconv.FormatInt(ts, 10)
	sigs := make([]string, 0, len(secrets))
	for _, secret := range secrets {
		sig, err := Sign(secret, msgID, now, payload)
		if err != nil {
			return fmt.Errorf("sign: %w", err)
		}
		sigs = append(sigs, sig)
	}
	brand := SignHMAC(secrets[0], ts, payload)
	switch scheme {
	case SchemeBody:
		brand = SignBody(secrets[0], payload)
	case SchemeBodyHex:
		brand = SignBodyHex(secrets[0], payload)
	}
	h[HeaderID] = []string{msgID}
	h[HeaderTimestamp] = []string{tsText}
	h[HeaderSignature] = []string{strings.Join(sigs, " ")}
	h.Set(prefix+"-Timestamp", tsText)
	h.Set(prefix+"-Signature", brand)
	return nil
}
