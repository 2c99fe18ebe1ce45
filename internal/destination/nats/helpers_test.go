package nats

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hookbook/hookbook/internal/brokertest"
)

// startPrivateServer starts a nats-server with JetStream and a
// user/password that only this test uses, so it can be stopped and started
// again.
func startPrivateServer(t testing.TB, user, pass string) *brokertest.Process {
	t.Helper()
	bin := brokertest.RequireBinary(t, "nats-server")
	dir := t.TempDir()
	port := brokertest.FreePort(t)
	conf := filepath.Join(dir, "nats.conf")
	body := fmt.Sprintf("listen: \"127.0.0.1:%d\"\njetstream { store_dir: %q }\nauthorization { user: %q, password: %q }\n",
		port, filepath.Join(dir, "js"), user, pass)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return brokertest.StartProcess(t, fmt.Sprintf("127.0.0.1:%d", port), bin, "-c", conf)
}
