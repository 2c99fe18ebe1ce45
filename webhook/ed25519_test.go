package webhook

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The signing example published with the Standard Webhooks Go library:
// a key given as base64 of a 32-byte seed signs the specification's
// example message.
const (
	swSigningKey = "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk="
	swSignature  = "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag=="
)

func TestSignEd25519StandardWebhooksExample(t *testing.T) {
	got, err := SignEd25519(swSigningKey, specID, time.Unix(specTS, 0), []byte(specBody))
	if err != nil {
		t.Fatal(err)
	}
	if got != swSignature {
		t.Fatalf("SignEd25519 = %q, want %q", got, swSignature)
	}
	pub, err := PublicKeyOf(swSigningKey)
	if err != nil {
		t.Fatal(err)
	}
	v := PublicKeyVerifier{PublicKeys: []string{pub}, Now: specNow}
	if err := v.Verify(specHeaders(swSignature), []byte(specBody)); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func TestGeneratedKeysSignAndVerify(t *testing.T) {
	sk, pk, err := GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sk, SigningKeyPrefix) || !strings.HasPrefix(pk, PublicKeyPrefix) {
		t.Fatalf("keys %q %q", sk, pk)
	}
	if derived, err := PublicKeyOf(sk); err != nil || derived != pk {
		t.Fatalf("PublicKeyOf = %q, %v; want %q", derived, err, pk)
	}
	// Checked with crypto/ed25519 directly, not through this package's verifier.
	now := time.Now()
	h := http.Header{}
	if err := SignHeadersEd25519(h, DefaultPrefix, "msg_1", now, []byte(specBody), []string{sk}); err != nil {
		t.Fatal(err)
	}
	sig, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(h[HeaderSignature][0], "v1a,"))
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(pk, PublicKeyPrefix))
	content := "msg_1." + h[HeaderTimestamp][0] + "." + specBody
	if !ed25519.Verify(ed25519.PublicKey(raw), []byte(content), sig) {
		t.Fatal("crypto/ed25519 does not verify the v1a signature")
	}
	if h.Get("X-Hookbook-Signature") != "" || h.Get("X-Hookbook-Timestamp") != h[HeaderTimestamp][0] {
		t.Fatalf("brand headers: %v", h)
	}
	if err := VerifyWithPublicKey(pk, h, []byte(specBody)); err != nil {
		t.Fatalf("VerifyWithPublicKey: %v", err)
	}
}

func TestSigningKeyForms(t *testing.T) {
	seed := []byte("hookbook-tests-ed25519-seed-0001")
	priv := ed25519.NewKeyFromSeed(seed)
	fromSeed, err := ParseSigningKey(SigningKeyPrefix + base64.StdEncoding.EncodeToString(seed))
	if err != nil {
		t.Fatal(err)
	}
	from64, err := ParseSigningKey(SigningKeyPrefix + base64.StdEncoding.EncodeToString(priv))
	if err != nil || !fromSeed.Equal(from64) {
		t.Fatalf("64-byte form: %v", err)
	}
	bad := append([]byte{}, priv...)
	bad[40] ^= 1
	for name, key := range map[string]string{
		"mismatched halves": SigningKeyPrefix + base64.StdEncoding.EncodeToString(bad),
		"no prefix":         base64.StdEncoding.EncodeToString(seed),
		"an HMAC secret":    specSecret,
		"not base64":        SigningKeyPrefix + "%%%",
		"16 bytes":          SigningKeyPrefix + base64.StdEncoding.EncodeToString(seed[:16]),
	} {
		if _, err := ParseSigningKey(key); !errors.Is(err, ErrInvalidSecret) {
			t.Errorf("%s: ParseSigningKey = %v, want ErrInvalidSecret", name, err)
		}
	}
	for name, key := range map[string]string{
		"no prefix":      base64.StdEncoding.EncodeToString(priv.Public().(ed25519.PublicKey)),
		"a signing key":  SigningKeyPrefix + base64.StdEncoding.EncodeToString(seed),
		"not base64":     PublicKeyPrefix + "!!",
		"31 bytes":       PublicKeyPrefix + base64.StdEncoding.EncodeToString(seed[:31]),
		"an HMAC secret": specSecret,
		"empty after it": PublicKeyPrefix,
	} {
		if _, err := ParsePublicKey(key); !errors.Is(err, ErrInvalidPublicKey) {
			t.Errorf("%s: ParsePublicKey = %v, want ErrInvalidPublicKey", name, err)
		}
	}
}

func TestPublicKeyVerifierRefusals(t *testing.T) {
	pub, _ := PublicKeyOf(swSigningKey)
	_, other, _ := GenerateSigningKey()
	body := []byte(specBody)
	withTS := func(ts string) http.Header { h := specHeaders(swSignature); h.Set(HeaderTimestamp, ts); return h }
	// The same content signed with HMAC: a v1 signature is not a v1a one.
	hmacSig, _ := Sign(specSecret, specID, time.Unix(specTS, 0), body)
	cases := []struct {
		name string
		keys []string
		h    http.Header
		body []byte
		now  time.Time
		want error
	}{
		{"tampered body", []string{pub}, specHeaders(swSignature), []byte(`{"test": 2432232315}`), specNow(), ErrNoMatchingSig},
		{"tampered timestamp", []string{pub}, withTS("1614265331"), body, specNow(), ErrNoMatchingSig},
		{"tampered id", []string{pub}, func() http.Header { h := specHeaders(swSignature); h.Set(HeaderID, "msg_other"); return h }(), body, specNow(), ErrNoMatchingSig},
		{"other public key", []string{other}, specHeaders(swSignature), body, specNow(), ErrNoMatchingSig},
		{"v1 signature only", []string{pub}, specHeaders(hmacSig), body, specNow(), ErrNoMatchingSig},
		{"v1 prefix on an ed25519 signature", []string{pub}, specHeaders("v1," + strings.TrimPrefix(swSignature, "v1a,")), body, specNow(), ErrNoMatchingSig},
		{"truncated signature", []string{pub}, specHeaders(swSignature[:40]), body, specNow(), ErrNoMatchingSig},
		{"missing signature", []string{pub}, specHeaders(""), body, specNow(), ErrMissingHeader},
		{"too old", []string{pub}, specHeaders(swSignature), body, specNow().Add(6 * time.Minute), ErrTimestampTooOld},
		{"too new", []string{pub}, specHeaders(swSignature), body, specNow().Add(-6 * time.Minute), ErrTimestampTooNew},
		{"bad public key", []string{"whpk_abc"}, specHeaders(swSignature), body, specNow(), ErrInvalidPublicKey},
		{"no public key", nil, specHeaders(swSignature), body, specNow(), ErrInvalidPublicKey},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := PublicKeyVerifier{PublicKeys: c.keys, Now: func() time.Time { return c.now }}
			if err := v.Verify(c.h, c.body); !errors.Is(err, c.want) {
				t.Fatalf("Verify = %v, want %v", err, c.want)
			}
		})
	}
	// Among several signatures (a rotation, or a v1 beside it), one match is enough.
	v := PublicKeyVerifier{PublicKeys: []string{other, pub}, Now: specNow}
	if err := v.Verify(specHeaders(hmacSig+" v1a,AAAA "+swSignature), body); err != nil {
		t.Fatalf("several signatures: %v", err)
	}
}

func TestSignHeadersEd25519Rotation(t *testing.T) {
	newKey, newPub, _ := GenerateSigningKey()
	oldKey, oldPub, _ := GenerateSigningKey()
	now := time.Now()
	h := http.Header{}
	if err := SignHeadersEd25519(h, DefaultPrefix, "msg_2", now, []byte(specBody), []string{newKey, oldKey}); err != nil {
		t.Fatal(err)
	}
	if n := len(strings.Fields(h[HeaderSignature][0])); n != 2 {
		t.Fatalf("%d signatures, want 2: %q", n, h[HeaderSignature][0])
	}
	for _, pub := range []string{newPub, oldPub} {
		if err := VerifyWithPublicKey(pub, h, []byte(specBody)); err != nil {
			t.Fatalf("%s: %v", pub, err)
		}
	}
	if err := SignHeadersEd25519(h, DefaultPrefix, "msg_2", now, nil, nil); !errors.Is(err, ErrInvalidSecret) {
		t.Fatalf("no key: %v", err)
	}
	if err := SignHeadersEd25519(h, DefaultPrefix, "msg_2", now, nil, []string{specSecret}); !errors.Is(err, ErrInvalidSecret) {
		t.Fatalf("an HMAC secret: %v", err)
	}
}

// BenchmarkSignHeaders compares the signature headers of one delivery
// (a 1 KiB body) signed with an HMAC secret and with an ed25519 key; quote
// the ratio of the two, measured in the same run.
func BenchmarkSignHeaders(b *testing.B) {
	body := []byte(strings.Repeat("x", 1024))
	sk, _, _ := GenerateSigningKey()
	for _, c := range []struct {
		name string
		sign func(h http.Header) error
	}{
		{"hmac-sha256", func(h http.Header) error {
			return SignHeaders(h, DefaultPrefix, SchemeTimestamped, "evt_1", time.Unix(specTS, 0), body, []string{specSecret})
		}},
		{"ed25519", func(h http.Header) error {
			return SignHeadersEd25519(h, DefaultPrefix, "evt_1", time.Unix(specTS, 0), body, []string{sk})
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if err := c.sign(http.Header{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
