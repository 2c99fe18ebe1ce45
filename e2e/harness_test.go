// Package e2e tests hookbook end to end: a real instance on 127.0.0.1 with a
// real database, real HTTP receivers, and the public API. The instance and
// receivers come from internal/hookbooktest; this file gives them the short
// names the suite uses.
package e2e

import (
	"encoding/json"
	"testing"

	"github.com/hookbook/hookbook/internal/hookbooktest"
	"github.com/hookbook/hookbook/internal/server"
)

const testKey = hookbooktest.Key

type (
	response = hookbooktest.Response
	receiver = hookbooktest.Receiver
)

var (
	backend     = hookbooktest.Backend
	databaseURL = hookbooktest.DatabaseURL
	waitFor     = hookbooktest.WaitFor
	newReceiver = hookbooktest.NewReceiver
)

// instance is a running hookbook.
type instance struct {
	*hookbooktest.Instance
	t   testing.TB
	app *server.App
	url string
	key string
}

// start runs hookbook with env overrides on a fresh database.
func start(t testing.TB, env map[string]string, setup ...func(*server.App)) *instance {
	t.Helper()
	return wrap(t, hookbooktest.Start(t, env, setup...))
}

// wrap gives the suite's short names to h, an instance of t.
func wrap(t testing.TB, h *hookbooktest.Instance) *instance {
	return &instance{Instance: h, t: t, app: h.App, url: h.URL, key: h.Key}
}

func (in *instance) stop()                                     { in.Stop() }
func (in *instance) do(method, path string, body any) response { return in.Do(method, path, body) }
func (in *instance) doKey(key, method, path string, body any) response {
	return in.DoKey(key, method, path, body)
}
func (in *instance) must(want int, method, path string, body any) map[string]any {
	in.t.Helper()
	return in.Must(want, method, path, body)
}
func (in *instance) createEndpoint(url string, events []string, extra map[string]any) map[string]any {
	in.t.Helper()
	return in.CreateEndpoint(url, events, extra)
}
func (in *instance) publish(event string, data any) string {
	in.t.Helper()
	return in.Publish(event, data)
}

// bookingData is valid booking.created data (the catalog's example) with
// fields set on top.
func bookingData(fields map[string]any) map[string]any {
	return hookbooktest.Data("booking.created", fields)
}

// mustJSON is v encoded as JSON.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
