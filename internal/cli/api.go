// Package cli is the developer's loop from the terminal, over a running
// hookbook's API: Listen (the client of the listen WebSocket: it forwards
// each delivery to a local app and answers with the app's response), and
// the API calls of `hookbook trigger`, `hookbook deliveries resend` and
// `hookbook events list|get`. cmd/hookbook only wires flags to it.
package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// API calls a hookbook's JSON API with an API key.
type API struct {
	URL    string // hookbook's base URL, e.g. http://localhost:8080
	Key    string // an organization's API key (hk_…)
	Client *http.Client
}

// MaxAnswer bounds an API answer the CLI reads.
const MaxAnswer = 16 << 20

// Check returns what is wrong with a and its base URL, or nil; a key not
// given is HOOKBOOK_API_KEY.
func (a *API) Check() error {
	if a.Key == "" {
		a.Key = os.Getenv("HOOKBOOK_API_KEY")
	}
	if strings.TrimSpace(a.URL) == "" {
		return fmt.Errorf("--url (or HOOKBOOK_URL) is required: hookbook's address, e.g. http://localhost:8080")
	}
	u, err := url.Parse(a.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--url %q is not an http(s) URL such as http://localhost:8080", a.URL)
	}
	if strings.TrimSpace(a.Key) == "" {
		return fmt.Errorf("--api-key (or HOOKBOOK_API_KEY) is required: an API key of your organization (hk_…)")
	}
	return nil
}

// Do sends a request (body JSON-encoded unless nil) and returns the answer
// of a 2xx; any other status is an error carrying hookbook's message.
func (a *API) Do(ctx context.Context, method, path string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(a.URL, "/")+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+a.Key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c := a.Client
	if c == nil {
		c = &http.Client{Timeout: time.Minute}
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswer))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return b, answerError(resp.StatusCode, b)
	}
	return b, nil
}

// answerError turns an error answer into an error naming its code and message.
func answerError(status int, b []byte) error {
	var e struct {
		Error struct {
			Code    string            `json:"code"`
			Message string            `json:"message"`
			Details map[string]string `json:"details"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil && e.Error.Code != "" {
		msg := fmt.Sprintf("hookbook answered %d %s: %s", status, e.Error.Code, e.Error.Message)
		for k, v := range e.Error.Details {
			msg += fmt.Sprintf(" (%s: %s)", k, v)
		}
		return fmt.Errorf("%s", msg)
	}
	return fmt.Errorf("hookbook answered %d: %s", status, bytes.TrimSpace(b))
}

// Trigger publishes an event of type typ whose data is the catalog's
// example of the type with data (a JSON object, or empty) merged over it,
// and returns the event's id.
func (a *API) Trigger(ctx context.Context, typ string, data string) (string, error) {
	var over map[string]any
	if strings.TrimSpace(data) != "" {
		if err := decodeObject([]byte(data), &over); err != nil || over == nil {
			return "", fmt.Errorf("--data must be a JSON object")
		}
	}
	b, err := a.Do(ctx, http.MethodGet, "/api/v1/event-types/"+url.PathEscape(typ), nil)
	if err != nil {
		return "", fmt.Errorf("event type %s: %w", typ, err)
	}
	var et struct {
		Example json.RawMessage `json:"example"`
	}
	if err := json.Unmarshal(b, &et); err != nil {
		return "", fmt.Errorf("event type %s: %w", typ, err)
	}
	example := map[string]any{}
	if len(et.Example) > 0 && string(et.Example) != "null" {
		if err := decodeObject(et.Example, &example); err != nil || example == nil {
			example = map[string]any{}
		}
	}
	b, err = a.Do(ctx, http.MethodPost, "/api/v1/events", map[string]any{"event": typ, "data": Merge(example, over)})
	if err != nil {
		return "", err
	}
	var ev struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &ev); err != nil || ev.ID == "" {
		return "", fmt.Errorf("unexpected answer: %s", b)
	}
	return ev.ID, nil
}

// decodeObject decodes a JSON object keeping its numbers as written.
func decodeObject(b []byte, dst *map[string]any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(dst)
}

// Merge returns base with over merged into it: objects merge key by key,
// any other value of over replaces base's.
func Merge(base, over map[string]any) map[string]any {
	for k, v := range over {
		if bo, ok := base[k].(map[string]any); ok {
			if vo, ok := v.(map[string]any); ok {
				base[k] = Merge(bo, vo)
				continue
			}
		}
		base[k] = v
	}
	return base
}

// Resend queues one more attempt of a delivery now and returns the answer.
func (a *API) Resend(ctx context.Context, deliveryID string) ([]byte, error) {
	return a.Do(ctx, http.MethodPost, "/api/v1/deliveries/"+url.PathEscape(deliveryID)+"/redeliver", nil)
}

// Events lists events, newest first (event: a type or pattern, "" for all).
func (a *API) Events(ctx context.Context, event string, limit int, cursor string) ([]byte, error) {
	q := url.Values{}
	if event != "" {
		q.Set("event", event)
	}
	if limit > 0 {
		q.Set("limit", fmt.Sprint(limit))
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	path := "/api/v1/events"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return a.Do(ctx, http.MethodGet, path, nil)
}

// Event returns one event with a summary of its deliveries.
func (a *API) Event(ctx context.Context, id string) ([]byte, error) {
	return a.Do(ctx, http.MethodGet, "/api/v1/events/"+url.PathEscape(id), nil)
}
