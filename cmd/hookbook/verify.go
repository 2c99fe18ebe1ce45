package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/hookbook/hookbook/webhook"
)

// headerFlags collects repeated --header "Name: value" flags.
type headerFlags http.Header

func (h headerFlags) String() string { return "" }
func (h headerFlags) Set(v string) error {
	name, value, ok := strings.Cut(v, ":")
	if !ok || strings.TrimSpace(name) == "" {
		return fmt.Errorf("%q is not \"Name: value\"", v)
	}
	http.Header(h).Add(strings.TrimSpace(name), strings.TrimSpace(value))
	return nil
}

// verify says whether a captured delivery verifies with a secret, and why
// not: the Standard Webhooks headers and the brand signature header. With
// the public key of an ed25519 endpoint, only webhook-signature ("v1a").
func verify(ctx context.Context, fs *flag.FlagSet, args []string, out io.Writer) error {
	secret := fs.String("secret", "", "the endpoint's secret, as shown by hookbook (this or --public-key)")
	publicKey := fs.String("public-key", "", "an ed25519 endpoint's public key (whpk_…), as GET /api/v1/webhooks/{id} shows it; checks the v1a signatures of webhook-signature (ed25519 endpoints send no brand signature)")
	scheme := fs.String("scheme", webhook.SchemeTimestamped, "the endpoint's signature_scheme: timestamped, body or body_hex")
	prefix := fs.String("prefix", envOr("HOOKBOOK_HEADER_PREFIX", webhook.DefaultPrefix), "the brand header prefix")
	tolerance := fs.Duration("tolerance", webhook.DefaultTolerance, "how far the timestamp may lie from --now (0: do not check)")
	at := fs.String("now", "", "check the timestamp against this time (RFC 3339) instead of the clock, for old captures")
	bodyFile := fs.String("body-file", "", "the raw body, with --header flags, instead of a request dump on stdin")
	headers := headerFlags{}
	fs.Var(headers, "header", `a request header "Name: value" (repeat), with --body-file`)
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if strings.HasPrefix(*secret, webhook.PublicKeyPrefix) { // a public key given as --secret
		*publicKey, *secret = *secret, ""
	}
	if *secret != "" && *publicKey != "" {
		return errors.New("verify: give --secret or --public-key, not both")
	}
	if *publicKey == "" {
		if err := required("verify", "secret (or --public-key)", *secret); err != nil {
			return err
		}
	}
	if strings.HasPrefix(*secret, webhook.SigningKeyPrefix) { // an ed25519 signing key: check with its public key
		pk, err := webhook.PublicKeyOf(*secret)
		if err != nil {
			return fmt.Errorf("verify: --secret: %w", err)
		}
		*publicKey, *secret = pk, ""
	}
	if *publicKey != "" {
		if _, err := webhook.ParsePublicKey(*publicKey); err != nil {
			return fmt.Errorf("verify: --public-key: %w", err)
		}
	}
	now := time.Now()
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			return fmt.Errorf("verify: --now: %q is not an RFC 3339 time", *at)
		}
		now = t
	}
	var h http.Header
	var body []byte
	if *bodyFile != "" {
		b, err := os.ReadFile(*bodyFile)
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		h, body = http.Header(headers), b
	} else {
		req, err := http.ReadRequest(bufio.NewReader(os.Stdin))
		if err != nil {
			return fmt.Errorf("verify: stdin is not an HTTP request dump (%v); or give --body-file and --header", err)
		}
		if body, err = io.ReadAll(req.Body); err != nil {
			return fmt.Errorf("verify: reading the body: %w", err)
		}
		h = req.Header
	}
	ok := false
	tol := *tolerance
	if tol == 0 {
		tol = -1
	}
	var v interface {
		Verify(http.Header, []byte) error
	} = &webhook.Verifier{Secrets: []string{*secret}, Tolerance: tol, Now: func() time.Time { return now }}
	if *publicKey != "" {
		v = &webhook.PublicKeyVerifier{PublicKeys: []string{*publicKey}, Tolerance: tol, Now: func() time.Time { return now }}
	}
	if h.Get(webhook.HeaderSignature) == "" {
		fmt.Fprintln(out, "webhook-signature: absent")
	} else if err := v.Verify(h, body); err != nil {
		fmt.Fprintf(out, "webhook-signature: does not verify: %s\n", why(err, len(body), *publicKey != ""))
	} else {
		ok = true
		fmt.Fprintln(out, "webhook-signature: verifies")
	}
	name := *prefix + "-Signature"
	if *publicKey != "" {
		fmt.Fprintf(out, "%s: not checked: ed25519 endpoints send no brand signature\n", name)
		if !ok {
			return errors.New("verify: the request does not verify")
		}
		return nil
	}
	sig := h.Get(name)
	var err error
	switch *scheme {
	case webhook.SchemeTimestamped:
		err = webhook.VerifyHMAC(*secret, sig, h.Get(*prefix+"-Timestamp"), body, tol, now)
	case webhook.SchemeBody:
		err = webhook.VerifyBody(*secret, sig, body)
	case webhook.SchemeBodyHex:
		err = webhook.VerifyBodyHex(*secret, sig, body)
	default:
		return fmt.Errorf("verify: --scheme %q is none of timestamped, body, body_hex", *scheme)
	}
	switch {
	case sig == "":
		fmt.Fprintf(out, "%s: absent\n", name)
	case err != nil:
		fmt.Fprintf(out, "%s: does not verify with scheme %s: %s\n", name, *scheme, why(err, len(body), false))
	default:
		ok = true
		fmt.Fprintf(out, "%s: verifies (scheme %s)\n", name, *scheme)
	}
	if !ok {
		return errors.New("verify: the request does not verify")
	}
	return nil
}

// why explains a verification error to someone debugging a receiver who
// gave a secret, or a public key.
func why(err error, n int, public bool) string {
	switch {
	case errors.Is(err, webhook.ErrTimestampTooOld), errors.Is(err, webhook.ErrTimestampTooNew):
		return "the timestamp is outside the tolerance (a replay, a clock off, or an old capture: try --now)"
	case errors.Is(err, webhook.ErrInvalidTimestamp):
		return "the timestamp is not unix seconds"
	case errors.Is(err, webhook.ErrMissingHeader):
		return "a header is missing"
	case errors.Is(err, webhook.ErrNoMatchingSig) && public:
		return fmt.Sprintf("no v1a signature verifies with this public key over these %d body bytes (another endpoint's key, a key rotated out, a v1 (HMAC) endpoint, or a body changed: re-serialised JSON, a trailing newline, another encoding)", n)
	case errors.Is(err, webhook.ErrNoMatchingSig):
		return fmt.Sprintf("no signature matches this secret over these %d body bytes (a wrong secret, or a body changed: re-serialised JSON, a trailing newline, another encoding)", n)
	}
	return err.Error()
}
