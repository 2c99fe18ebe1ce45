package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/hookbook/hookbook/webhook"
)

// inboundSend signs and sends one inbound command and prints the answer.
func inboundSend(ctx context.Context, fs *flag.FlagSet, args []string, out io.Writer) error {
	url := fs.String("url", "", "command URL, e.g. http://localhost:8080/api/public/webhooks/inbound (required)")
	secret := fs.String("secret", os.Getenv("HOOKBOOK_INBOUND_SECRET"), "inbound secret (or HOOKBOOK_INBOUND_SECRET)")
	action := fs.String("action", "", "action, e.g. admin.appointments.approve (required)")
	params := fs.String("params", "{}", "params as a JSON object")
	data := fs.String("data", "{}", "data as a JSON object")
	prefix := fs.String("prefix", envOr("HOOKBOOK_HEADER_PREFIX", "X-Hookbook"), "header prefix")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if err := required("inbound send", "url", *url, "secret", *secret, "action", *action); err != nil {
		return err
	}
	body, err := json.Marshal(map[string]any{"action": *action, "params": json.RawMessage(*params), "data": json.RawMessage(*data)})
	if err != nil || !json.Valid([]byte(*params)) || !json.Valid([]byte(*data)) {
		return errors.New("--params and --data must be JSON objects")
	}
	ts := time.Now().Unix()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, *url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(*prefix+"-Timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set(*prefix+"-Request-Id", uuid.NewString())
	req.Header.Set(*prefix+"-Signature", webhook.SignHMAC(*secret, ts, body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	fmt.Fprintf(out, "%d %s\n", resp.StatusCode, bytes.TrimSpace(answer))
	if resp.StatusCode >= 300 {
		return fmt.Errorf("command refused with %d", resp.StatusCode)
	}
	return nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
