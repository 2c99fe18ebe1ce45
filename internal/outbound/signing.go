package outbound

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/ids"
	"github.com/hookbook/hookbook/webhook"
)

// newSecret returns a new signing secret for an endpoint of the given
// signature algorithm: a "whsec_" HMAC secret, or a "whsk_" ed25519
// signing key.
func newSecret(algorithm string) (string, error) {
	if algorithm == hookbook.AlgorithmEd25519 {
		sk, _, err := webhook.GenerateSigningKey()
		return sk, err
	}
	return ids.Secret(), nil
}

// applyNewSigning validates and sets a new endpoint's signature algorithm
// (hmac-sha256 unless given) and its secret: the one given, or a new one.
// An ed25519 endpoint's secret must be a "whsk_" signing key (stored in its
// 32-byte seed form), and its brand signature scheme stays "timestamped":
// it sends no brand signature.
func applyNewSigning(e *hookbook.Endpoint, in EndpointInput, f hookbook.Fields) {
	e.SignatureAlgorithm = hookbook.AlgorithmHMACSHA256
	if in.SignatureAlgorithm != nil {
		switch a := *in.SignatureAlgorithm; a {
		case hookbook.AlgorithmHMACSHA256, hookbook.AlgorithmEd25519:
			e.SignatureAlgorithm = a
		default:
			f.Add("signature_algorithm", `must be "hmac-sha256" or "ed25519"`)
			return
		}
	}
	checkSchemeFor(e.SignatureAlgorithm, in, f)
	if in.Secret == nil {
		secret, err := newSecret(e.SignatureAlgorithm)
		if err != nil {
			f.Add("secret", "could not be generated: "+err.Error())
		}
		e.Secret = secret
		e.SetPublicKey()
		return
	}
	secret := *in.Secret
	switch {
	case e.SignsWithEd25519():
		priv, err := webhook.ParseSigningKey(secret)
		if err != nil {
			f.Add("secret", "an ed25519 endpoint's secret is a whsk_ signing key, base64 of the 32-byte seed (or generated when omitted): "+
				strings.TrimPrefix(err.Error(), webhook.ErrInvalidSecret.Error()+": "))
			return
		}
		secret = webhook.SigningKeyPrefix + base64.StdEncoding.EncodeToString(priv.Seed())
	case strings.HasPrefix(secret, webhook.SigningKeyPrefix):
		f.Add("secret", `a whsk_ key is an ed25519 signing key: give "signature_algorithm": "ed25519" with it`)
	case len(secret) < MinSecretLength:
		f.Add("secret", fmt.Sprintf("must be at least %d characters", MinSecretLength))
	case strings.HasPrefix(secret, webhook.SecretPrefix):
		if _, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, webhook.SecretPrefix)); err != nil {
			f.Add("secret", "a whsec_ secret must be followed by base64")
		}
	}
	e.Secret = secret
	e.SetPublicKey()
}

// checkSigningUpdate refuses a change of an endpoint's signature
// algorithm (it is chosen at creation) and a brand signature scheme other
// than "timestamped" on an ed25519 endpoint.
func checkSigningUpdate(e *hookbook.Endpoint, in EndpointInput, f hookbook.Fields) {
	if a := in.SignatureAlgorithm; a != nil && *a != e.SignatureAlgorithm {
		f.Add("signature_algorithm", fmt.Sprintf("is %q and cannot be changed after creation; create a new endpoint with %q, move the receiver to it, then delete this one", e.SignatureAlgorithm, *a))
	}
	checkSchemeFor(e.SignatureAlgorithm, in, f)
}

// checkSchemeFor refuses a body or body_hex brand scheme for ed25519.
func checkSchemeFor(algorithm string, in EndpointInput, f hookbook.Fields) {
	if algorithm == hookbook.AlgorithmEd25519 && in.Scheme != nil && *in.Scheme != hookbook.SchemeTimestamped {
		f.Add("signature_scheme", `must be "timestamped" for an ed25519 endpoint: it sends no brand signature (verify webhook-signature with the public key)`)
	}
}
