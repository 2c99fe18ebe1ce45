package webhook

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Asymmetric signatures (Standard Webhooks "v1a", ed25519).
//
// An endpoint that signs with ed25519 holds a signing key, "whsk_" +
// base64 of the 32-byte ed25519 seed, that never leaves the sender; its
// receivers hold only the public key, "whpk_" + base64 of the 32-byte
// ed25519 public key, which may be published. The webhook-signature header
// carries "v1a," + base64 of the 64-byte ed25519 signature of the same
// content as "v1": "{webhook-id}.{webhook-timestamp}.{body}". During a
// rotation the header holds one such signature per key still signing,
// space-separated. These are the key and signature forms of the Standard
// Webhooks libraries, so receivers may also verify with them.

// Prefixes of ed25519 keys.
const (
	SigningKeyPrefix = "whsk_"
	PublicKeyPrefix  = "whpk_"
)

// ErrInvalidPublicKey is returned for a public key that is not "whpk_" +
// base64 of 32 bytes.
var ErrInvalidPublicKey = errors.New("webhook: invalid public key")

// GenerateSigningKey returns a new random ed25519 signing key ("whsk_…")
// and its public key ("whpk_…").
func GenerateSigningKey() (signingKey, publicKey string, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("webhook: generate ed25519 key: %w", err)
	}
	return SigningKeyPrefix + base64.StdEncoding.EncodeToString(priv.Seed()),
		PublicKeyPrefix + base64.StdEncoding.EncodeToString(pub), nil
}

// ParseSigningKey reads a "whsk_" signing key: base64 of the 32-byte seed,
// or of the 64-byte private key (seed then public key) that some libraries
// write, whose halves must agree.
func ParseSigningKey(key string) (ed25519.PrivateKey, error) {
	rest, ok := strings.CutPrefix(key, SigningKeyPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: an ed25519 signing key begins with %s", ErrInvalidSecret, SigningKeyPrefix)
	}
	raw, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return nil, fmt.Errorf("%w: %s must be followed by base64", ErrInvalidSecret, SigningKeyPrefix)
	}
	switch len(raw) {
	case ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(raw), nil
	case ed25519.PrivateKeySize:
		priv := ed25519.NewKeyFromSeed(raw[:ed25519.SeedSize])
		if !bytes.Equal(priv, raw) {
			return nil, fmt.Errorf("%w: the public half of the 64-byte key does not match its seed", ErrInvalidSecret)
		}
		return priv, nil
	}
	return nil, fmt.Errorf("%w: an ed25519 signing key is %d bytes (or %d), not %d", ErrInvalidSecret, ed25519.SeedSize, ed25519.PrivateKeySize, len(raw))
}

// ParsePublicKey reads a "whpk_" public key: base64 of 32 bytes.
func ParsePublicKey(key string) (ed25519.PublicKey, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(key), PublicKeyPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: a public key begins with %s", ErrInvalidPublicKey, PublicKeyPrefix)
	}
	raw, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return nil, fmt.Errorf("%w: %s must be followed by base64", ErrInvalidPublicKey, PublicKeyPrefix)
	}
	if len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: an ed25519 public key is %d bytes, not %d", ErrInvalidPublicKey, ed25519.PublicKeySize, len(raw))
	}
	return ed25519.PublicKey(raw), nil
}

// PublicKeyOf returns the "whpk_" public key of a "whsk_" signing key.
func PublicKeyOf(signingKey string) (string, error) {
	priv, err := ParseSigningKey(signingKey)
	if err != nil {
		return "", err
	}
	return PublicKeyPrefix + base64.StdEncoding.EncodeToString(priv.Public().(ed25519.PublicKey)), nil
}

// signedContent is what "v1" and "v1a" sign: "{msgID}.{timestamp}.{payload}".
func signedContent(msgID string, ts int64, payload []byte) []byte {
	b := make([]byte, 0, len(msgID)+len(payload)+22)
	b = append(b, msgID...)
	b = append(b, '.')
	b = strconv.AppendInt(b, ts, 10)
	b = append(b, '.')
	return append(b, payload...)
}

// SignEd25519 returns the Standard Webhooks asymmetric signature
// "v1a,<base64>" of payload sent as message msgID at timestamp, made with
// a "whsk_" signing key.
func SignEd25519(signingKey, msgID string, timestamp time.Time, payload []byte) (string, error) {
	priv, err := ParseSigningKey(signingKey)
	if err != nil {
		return "", err
	}
	return "v1a," + base64.StdEncoding.EncodeToString(ed25519.Sign(priv, signedContent(msgID, timestamp.Unix(), payload))), nil
}

// PublicKeyVerifier checks the Standard Webhooks headers of a request
// signed with ed25519 ("v1a"), knowing only public keys. The zero value is
// not usable: set at least one public key.
type PublicKeyVerifier struct {
	// PublicKeys ("whpk_…") that may have signed the message; during a
	// rotation a receiver may list both the old and the new one.
	PublicKeys []string
	// Tolerance is the largest accepted difference between the timestamp
	// and Now. Zero means DefaultTolerance; a negative value disables the check.
	Tolerance time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Verify checks the webhook-id, webhook-timestamp and webhook-signature
// headers against payload, the raw request body. It returns nil when one of
// the header's "v1a" signatures verifies with one of the public keys;
// signatures of other versions are ignored.
func (v *PublicKeyVerifier) Verify(h http.Header, payload []byte) error {
	id, tsText, sigs := header(h, HeaderID), header(h, HeaderTimestamp), header(h, HeaderSignature)
	if id == "" || tsText == "" || sigs == "" {
		return ErrMissingHeader
	}
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	ts, err := CheckTimestamp(tsText, v.Tolerance, now)
	if err != nil {
		return err
	}
	keys := make([]ed25519.PublicKey, 0, len(v.PublicKeys))
	for _, k := range v.PublicKeys {
		pub, err := ParsePublicKey(k)
		if err != nil {
			return err
		}
		keys = append(keys, pub)
	}
	if len(keys) == 0 {
		return fmt.Errorf("%w: no public key", ErrInvalidPublicKey)
	}
	content := signedContent(id, ts, payload)
	for _, field := range strings.Fields(sigs) {
		version, b64, ok := strings.Cut(field, ",")
		if !ok || version != "v1a" {
			continue
		}
		sig, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(sig) != ed25519.SignatureSize {
			continue
		}
		for _, pub := range keys {
			if ed25519.Verify(pub, content, sig) {
				return nil
			}
		}
	}
	return ErrNoMatchingSig
}

// VerifyWithPublicKey checks a request's Standard Webhooks headers, signed
// with ed25519, with one "whpk_" public key and the default tolerance.
func VerifyWithPublicKey(publicKey string, h http.Header, payload []byte) error {
	v := PublicKeyVerifier{PublicKeys: []string{publicKey}}
	return v.Verify(h, payload)
}

// SignHeadersEd25519 sets on h the signature headers of one request
// carrying payload, message id msgID, sent at now, by an endpoint that
// signs with ed25519:
//
//   - webhook-id, webhook-timestamp and webhook-signature, with one "v1a"
//     signature per signing key in signingKeys (the newest first),
//     space-separated;
//   - {prefix}-Timestamp, the same timestamp. No {prefix}-Signature: the
//     brand signature is an HMAC, which needs a secret shared with the
//     receiver, and these receivers hold only a public key.
func SignHeadersEd25519(h http.Header, prefix, msgID string, now time.Time, payload []byte, signingKeys []string) error {
	if len(signingKeys) == 0 {
		return fmt.Errorf("%w: no signing key", ErrInvalidSecret)
	}
	content := signedContent(msgID, now.Unix(), payload)
	sigs := make([]string, 0, len(signingKeys))
	for _, key := range signingKeys {
		priv, err := ParseSigningKey(key)
		if err != nil {
			return fmt.Errorf("sign: %w", err)
		}
		sigs = append(sigs, "v1a,"+base64.StdEncoding.EncodeToString(ed25519.Sign(priv, content)))
	}
	tsText := strconv.FormatInt(now.Unix(), 10)
	h[HeaderID] = []string{msgID}
	h[HeaderTimestamp] = []string{tsText}
	h[HeaderSignature] = []string{strings.Join(sigs, " ")}
	h.Set(prefix+"-Timestamp", tsText)
	return nil
}
