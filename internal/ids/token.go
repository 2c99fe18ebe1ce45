package ids

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// TokenBytes is how many random bytes every generated secret, API key and
// session token carries.
const TokenBytes = 32

func random(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("ids: the system's random source failed: " + err.Error()) // crypto/rand never fails on supported systems
	}
	return b
}

// Token returns prefix followed by TokenBytes random bytes in hex, e.g.
// Token("hk_") for an API key or Token("") for a session token.
func Token(prefix string) string { return prefix + hex.EncodeToString(random(TokenBytes)) }

// Secret returns a new signing secret: "whsec_" and the base64 of
// TokenBytes random bytes, the form Standard Webhooks libraries expect.
func Secret() string { return "whsec_" + base64.StdEncoding.EncodeToString(random(TokenBytes)) }

// Hash is how tokens and keys are stored: they are long random strings, so
// a plain SHA-256 makes a leaked table useless.
func Hash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}
