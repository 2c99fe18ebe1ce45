package webhook

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json from the signing code")

// vector is one case of testdata/vectors.json, a language-neutral file:
// "sign" cases give the inputs and the headers hookbook sends; "verify"
// cases give headers a receiver gets at "now" and whether they verify.
// Cases whose algorithm is "ed25519" sign with "whsk_" keys (secrets) and
// verify with "whpk_" public keys alone (public_keys).
type vector struct {
	Name       string            `json:"name"`
	Kind       string            `json:"kind"` // sign or verify
	Algorithm  string            `json:"algorithm,omitempty"`
	Scheme     string            `json:"scheme,omitempty"`
	Secrets    []string          `json:"secrets"`               // newest first
	PublicKeys []string          `json:"public_keys,omitempty"` // ed25519: newest first
	ID         string            `json:"id,omitempty"`
	Timestamp  int64             `json:"timestamp,omitempty"`
	Body       string            `json:"body"`
	Headers    map[string]string `json:"headers"`
	Now        int64             `json:"now,omitempty"`
	Valid      bool              `json:"valid"`
}

const (
	vecSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vecOld    = "whsec_b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldA=="
	vecPlain  = "a-plain-secret-of-some-length"
	vecTS     = 1774362600 // 2026-03-24T14:30:00Z
	// ed25519 signing keys: base64 of the 32-byte seeds
	// "hookbook-vectors-ed25519-seed-01" and "…-02".
	vecSK    = "whsk_aG9va2Jvb2stdmVjdG9ycy1lZDI1NTE5LXNlZWQtMDE="
	vecSKOld = "whsk_aG9va2Jvb2stdmVjdG9ycy1lZDI1NTE5LXNlZWQtMDI="
	vecBody  = `{"id":"evt_01JQ2Z8Y5V4N6T7R8S9A0B1C2D","event":"booking.created","timestamp":"2026-03-24T14:30:00Z","organization_id":"org_1","data":{"name":"Zoë <b>&</b> 😀","price":150}}`
)

// buildVectors computes the vectors from the signing code.
func buildVectors(t *testing.T) []vector {
	var out []vector
	sign := func(name, scheme string, secrets []string) vector {
		h := http.Header{}
		if err := SignHeaders(h, DefaultPrefix, scheme, "evt_01JQ2Z8Y5V4N6T7R8S9A0B1C2D", time.Unix(vecTS, 0), []byte(vecBody), secrets); err != nil {
			t.Fatal(err)
		}
		flat := map[string]string{}
		for k, v := range h {
			flat[http.CanonicalHeaderKey(k)] = v[0]
		}
		return vector{Name: name, Kind: "sign", Scheme: scheme, Secrets: secrets, ID: "evt_01JQ2Z8Y5V4N6T7R8S9A0B1C2D", Timestamp: vecTS, Body: vecBody, Headers: flat, Valid: true}
	}
	out = append(out,
		sign("timestamped scheme, whsec_ secret", SchemeTimestamped, []string{vecSecret}),
		sign("body scheme", SchemeBody, []string{vecSecret}),
		sign("body_hex scheme", SchemeBodyHex, []string{vecSecret}),
		sign("plain secret (brand HMAC keyed with the string; Standard Webhooks with its bytes)", SchemeTimestamped, []string{vecPlain}),
		sign("rotation: one Standard Webhooks signature per secret, newest first; the brand header with the newest", SchemeTimestamped, []string{vecSecret, vecOld}),
	)
	good := out[0].Headers
	verify := func(name string, headers map[string]string, now int64, valid bool, secrets ...string) vector {
		return vector{Name: name, Kind: "verify", Secrets: secrets, Body: vecBody, Headers: headers, Now: now, Valid: valid}
	}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for kk, vv := range good {
			if kk == "X-Hookbook-Signature" || kk == "X-Hookbook-Timestamp" {
				continue
			}
			m[kk] = vv
		}
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	std := with("", "")
	out = append(out,
		verify("valid", std, vecTS, true, vecSecret),
		verify("valid with the old secret listed too (rotation on the receiver's side)", std, vecTS, true, vecOld, vecSecret),
		verify("the rotated headers verify with the old secret alone", with("Webhook-Signature", out[4].Headers["Webhook-Signature"]), vecTS, true, vecOld),
		verify("timestamp 300 s old: inside the tolerance", std, vecTS+300, true, vecSecret),
		verify("timestamp 301 s old: outside", std, vecTS+301, false, vecSecret),
		verify("timestamp 300 s ahead: inside", std, vecTS-300, true, vecSecret),
		verify("timestamp 301 s ahead: outside", std, vecTS-301, false, vecSecret),
		verify("wrong secret", std, vecTS, false, vecOld),
		verify("webhook-id changed", with("Webhook-Id", "evt_other"), vecTS, false, vecSecret),
		verify("signature without the v1, prefix", with("Webhook-Signature", good["Webhook-Signature"][3:]), vecTS, false, vecSecret),
		verify("signature not base64", with("Webhook-Signature", "v1,!!!"), vecTS, false, vecSecret),
		verify("unknown version only", with("Webhook-Signature", "v2,"+good["Webhook-Signature"][3:]), vecTS, false, vecSecret),
		verify("timestamp not a number", with("Webhook-Timestamp", "soon"), vecTS, false, vecSecret),
		verify("webhook-id missing", with("Webhook-Id", ""), vecTS, false, vecSecret),
		verify("webhook-signature missing", with("Webhook-Signature", ""), vecTS, false, vecSecret),
	)
	return append(out, buildEd25519Vectors(t)...)
}

// buildEd25519Vectors computes the ed25519 ("v1a") cases.
func buildEd25519Vectors(t *testing.T) []vector {
	pub := func(sk string) string {
		pk, err := PublicKeyOf(sk)
		if err != nil {
			t.Fatal(err)
		}
		return pk
	}
	pk, pkOld := pub(vecSK), pub(vecSKOld)
	sign := func(name string, keys []string) vector {
		h := http.Header{}
		if err := SignHeadersEd25519(h, DefaultPrefix, "evt_01JQ2Z8Y5V4N6T7R8S9A0B1C2D", time.Unix(vecTS, 0), []byte(vecBody), keys); err != nil {
			t.Fatal(err)
		}
		flat := map[string]string{}
		for k, v := range h {
			flat[http.CanonicalHeaderKey(k)] = v[0]
		}
		pks := make([]string, len(keys))
		for i, k := range keys {
			pks[i] = pub(k)
		}
		return vector{Name: name, Kind: "sign", Algorithm: "ed25519", Secrets: keys, PublicKeys: pks, ID: "evt_01JQ2Z8Y5V4N6T7R8S9A0B1C2D", Timestamp: vecTS, Body: vecBody, Headers: flat, Valid: true}
	}
	one := sign("ed25519: one v1a signature; the brand headers carry the timestamp, no signature", []string{vecSK})
	two := sign("ed25519 rotation: one v1a signature per key, newest first", []string{vecSK, vecSKOld})
	out := []vector{one, two}
	good := one.Headers
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for kk, vv := range good {
			if kk != "X-Hookbook-Timestamp" {
				m[kk] = vv
			}
		}
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	verify := func(name string, headers map[string]string, body string, now int64, valid bool, keys ...string) vector {
		return vector{Name: name, Kind: "verify", Algorithm: "ed25519", Secrets: []string{}, PublicKeys: keys, Body: body, Headers: headers, Now: now, Valid: valid}
	}
	std := with("", "")
	sig := strings.TrimPrefix(good["Webhook-Signature"], "v1a,")
	hmacSig, err := Sign(vecSecret, "evt_01JQ2Z8Y5V4N6T7R8S9A0B1C2D", time.Unix(vecTS, 0), []byte(vecBody))
	if err != nil {
		t.Fatal(err)
	}
	return append(out,
		verify("ed25519: valid with the public key alone", std, vecBody, vecTS, true, pk),
		verify("ed25519: valid with the old key listed too", std, vecBody, vecTS, true, pkOld, pk),
		verify("ed25519: the rotated headers verify with the old public key alone", with("Webhook-Signature", two.Headers["Webhook-Signature"]), vecBody, vecTS, true, pkOld),
		verify("ed25519: a v1 signature beside the v1a one is ignored", with("Webhook-Signature", hmacSig+" "+good["Webhook-Signature"]), vecBody, vecTS, true, pk),
		verify("ed25519: other public key", std, vecBody, vecTS, false, pkOld),
		verify("ed25519: body changed", std, strings.Replace(vecBody, `"price":150`, `"price":151`, 1), vecTS, false, pk),
		verify("ed25519: timestamp changed", with("Webhook-Timestamp", "1774362601"), vecBody, vecTS, false, pk),
		verify("ed25519: webhook-id changed", with("Webhook-Id", "evt_other"), vecBody, vecTS, false, pk),
		verify("ed25519: timestamp 301 s old", std, vecBody, vecTS+301, false, pk),
		verify("ed25519: v1 prefix on the ed25519 signature", with("Webhook-Signature", "v1,"+sig), vecBody, vecTS, false, pk),
		verify("ed25519: an HMAC v1 signature only", with("Webhook-Signature", hmacSig), vecBody, vecTS, false, pk),
		verify("ed25519: signature not base64", with("Webhook-Signature", "v1a,!!!"), vecBody, vecTS, false, pk),
	)
}

// TestVectors: testdata/vectors.json is what the signing code produces,
// and the verifier agrees with each verify case. Run with -update after a
// deliberate change.
func TestVectors(t *testing.T) {
	want := buildVectors(t)
	if *update {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		enc.Encode(want)
		if err := os.WriteFile("testdata/vectors.json", buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var got []vector
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	wb, _ := json.Marshal(want)
	gb, _ := json.Marshal(got)
	if string(wb) != string(gb) {
		t.Fatal("testdata/vectors.json differs from the signing code; run go test -run TestVectors -update and review the diff")
	}
	for _, v := range got {
		if v.Kind != "verify" {
			continue
		}
		h := http.Header{}
		for k, val := range v.Headers {
			h.Set(k, val)
		}
		now := func() time.Time { return time.Unix(v.Now, 0) }
		var err error
		if v.Algorithm == "ed25519" {
			ver := PublicKeyVerifier{PublicKeys: v.PublicKeys, Now: now}
			err = ver.Verify(h, []byte(v.Body))
		} else {
			ver := Verifier{Secrets: v.Secrets, Now: now}
			err = ver.Verify(h, []byte(v.Body))
		}
		if (err == nil) != v.Valid {
			t.Errorf("%s: Verify = %v, want valid %v", v.Name, err, v.Valid)
		}
	}
}

// TestVectorsInNode checks the same file with an independent JavaScript
// implementation of the recipes, as a receiver in Node would write it.
func TestVectorsInNode(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is required under CI=true")
		}
		t.Skip("\n\n*** SKIPPED: node is not installed.\n\n")
	}
	out, err := exec.Command("node", "testdata/vectors.cjs", "testdata/vectors.json").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "ok ") {
		t.Errorf("node: %v\n%s", err, out)
	}
}
