package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The example published by the Standard Webhooks specification.
const (
	specSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	specTS     = 1614265330
	specBody   = `{"test": 2432232314}`
	specSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func specHeaders(sig string) http.Header {
	h := http.Header{}
	h.Set(HeaderID, specID)
	h.Set(HeaderTimestamp, "1614265330")
	h.Set(HeaderSignature, sig)
	return h
}

func specNow() time.Time { return time.Unix(specTS, 0) }

func TestSignStandardWebhooksExample(t *testing.T) {
	got, err := Sign(specSecret, specID, time.Unix(specTS, 0), []byte(specBody))
	if err != nil {
		t.Fatal(err)
	}
	if got != specSig {
		t.Fatalf("Sign = %q, want %q", got, specSig)
	}
}

func TestVerifyStandardWebhooksExample(t *testing.T) {
	v := Verifier{Secrets: []string{specSecret}, Now: specNow}
	if err := v.Verify(specHeaders(specSig), []byte(specBody)); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	// Several signatures in one header: an unknown one first, then ours.
	multi := "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,abc " + specSig
	if err := v.Verify(specHeaders(multi), []byte(specBody)); err != nil {
		t.Fatalf("Verify with several signatures: %v", err)
	}
}

func TestVerifyRefusals(t *testing.T) {
	body := []byte(specBody)
	cases := []struct {
		name string
		v    Verifier
		h    http.Header
		body []byte
		want error
	}{
		{"tampered body", Verifier{Secrets: []string{specSecret}, Now: specNow}, specHeaders(specSig), []byte(`{"test": 2432232315}`), ErrNoMatchingSig},
		{"other secret", Verifier{Secrets: []string{"whsec_" + "c2VjcmV0LXNlY3JldC1zZWNyZXQ="}, Now: specNow}, specHeaders(specSig), body, ErrNoMatchingSig},
		{"missing signature", Verifier{Secrets: []string{specSecret}, Now: specNow}, specHeaders(""), body, ErrMissingHeader},
		{"wrong version", Verifier{Secrets: []string{specSecret}, Now: specNow}, specHeaders("v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), body, ErrNoMatchingSig},
		{"garbage", Verifier{Secrets: []string{specSecret}, Now: specNow}, specHeaders("v1,!!!"), body, ErrNoMatchingSig},
		{"too old", Verifier{Secrets: []string{specSecret}, Now: func() time.Time { return specNow().Add(6 * time.Minute) }}, specHeaders(specSig), body, ErrTimestampTooOld},
		{"too new", Verifier{Secrets: []string{specSecret}, Now: func() time.Time { return specNow().Add(-6 * time.Minute) }}, specHeaders(specSig), body, ErrTimestampTooNew},
		{"bad timestamp", Verifier{Secrets: []string{specSecret}, Now: specNow}, func() http.Header { h := specHeaders(specSig); h.Set(HeaderTimestamp, "soon"); return h }(), body, ErrInvalidTimestamp},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.v.Verify(c.h, c.body)
			if !errors.Is(err, c.want) {
				t.Fatalf("Verify = %v, want %v", err, c.want)
			}
		})
	}
}

func TestToleranceBoundary(t *testing.T) {
	v := Verifier{Secrets: []string{specSecret}, Tolerance: 10 * time.Second, Now: func() time.Time { return specNow().Add(10 * time.Second) }}
	if err := v.Verify(specHeaders(specSig), []byte(specBody)); err != nil {
		t.Fatalf("at the boundary: %v", err)
	}
	v.Now = func() time.Time { return specNow().Add(11 * time.Second) }
	if err := v.Verify(specHeaders(specSig), []byte(specBody)); !errors.Is(err, ErrTimestampTooOld) {
		t.Fatalf("past the boundary: %v", err)
	}
	v.Tolerance = -1
	if err := v.Verify(specHeaders(specSig), []byte(specBody)); err != nil {
		t.Fatalf("disabled tolerance: %v", err)
	}
}

func TestRawSecretKey(t *testing.T) {
	key, err := Key("a-plain-secret-of-20ch")
	if err != nil || string(key) != "a-plain-secret-of-20ch" {
		t.Fatalf("Key = %q, %v", key, err)
	}
	if _, err := Key("whsec_%%%"); !errors.Is(err, ErrInvalidSecret) {
		t.Fatalf("bad base64 secret: %v", err)
	}
}

// independentHMAC is the published signing recipe, written out
// without this package's helpers.
func independentHMAC(secret, msg string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(msg))
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func TestBrandSignatures(t *testing.T) {
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" // keyed with the string as given
	body := []byte(`{"a":1}`)
	got := SignHMAC(secret, 1700000000, body)
	if want := independentHMAC(secret, "1700000000."+string(body)); got != want {
		t.Fatalf("SignHMAC = %s, want %s", got, want)
	}
	if got, want := SignBody(secret, body), independentHMAC(secret, string(body)); got != want {
		t.Fatalf("SignBody = %s, want %s", got, want)
	}
	now := time.Unix(1700000100, 0)
	if err := VerifyHMAC(secret, got, "1700000000", body, 0, now); err != nil {
		t.Fatalf("VerifyHMAC: %v", err)
	}
	if err := VerifyHMAC(secret, got, "1700000000", []byte(`{"a":2}`), 0, now); !errors.Is(err, ErrNoMatchingSig) {
		t.Fatalf("VerifyHMAC tampered: %v", err)
	}
	if err := VerifyHMAC(secret, got, "1700000000", body, 0, now.Add(time.Hour)); !errors.Is(err, ErrTimestampTooOld) {
		t.Fatalf("VerifyHMAC stale: %v", err)
	}
	if err := VerifyHMAC(secret, "md5=00", "1700000000", body, 0, now); !errors.Is(err, ErrMalformedSigField) {
		t.Fatalf("VerifyHMAC malformed: %v", err)
	}
	if err := VerifyBody(secret, SignBody(secret, body), body); err != nil {
		t.Fatalf("VerifyBody: %v", err)
	}
}

func FuzzVerify(f *testing.F) {
	f.Add(specID, "1614265330", specSig, []byte(specBody))
	f.Add("", "x", "v1,", []byte{})
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		h := http.Header{}
		h.Set(HeaderID, id)
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, sig)
		v := Verifier{Secrets: []string{specSecret}, Tolerance: -1}
		err := v.Verify(h, body)
		if err == nil {
			// Only a real signature may pass.
			want, _ := Sign(specSecret, id, time.Unix(mustInt(ts), 0), body)
			if !containsField(sig, want) {
				t.Fatalf("accepted a forged signature %q", sig)
			}
		}
	})
}

func mustInt(s string) int64 {
	ts, _ := CheckTimestamp(s, -1, time.Now())
	return ts
}

// containsField reports whether one v1 field of header decodes to the same
// MAC as want.
func containsField(header, want string) bool {
	w, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(want, "v1,"))
	for _, f := range strings.Fields(header) {
		if b, ok := strings.CutPrefix(f, "v1,"); ok {
			if g, err := base64.StdEncoding.DecodeString(b); err == nil && hmac.Equal(g, w) {
				return true
			}
		}
	}
	return false
}

// TestVerifySignedHeaders: the headers SignHeaders sets verify as they
// are, without a trip through net/http's canonical names.
func TestVerifySignedHeaders(t *testing.T) {
	body := []byte(`{"id":"evt_1"}`)
	h := http.Header{}
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	if err := SignHeaders(h, DefaultPrefix, SchemeTimestamped, "evt_1", time.Now(), body, []string{secret}); err != nil {
		t.Fatal(err)
	}
	if err := (&Verifier{Secrets: []string{secret}}).Verify(h, body); err != nil {
		t.Errorf("verify the signed headers: %v", err)
	}
	if err := (&Verifier{Secrets: []string{secret}}).Verify(h, append(body, ' ')); err == nil {
		t.Error("a changed body verified")
	}
}
