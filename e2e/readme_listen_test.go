package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookbook/hookbook/internal/hookbooktest"
)

// readmeListen runs the README's "Developing a receiver" session as it is,
// with the built binary on PATH and free ports for 8080 and 3000.
func readmeListen(t *testing.T, s snippet) {
	for _, tool := range []string{"curl", "jq", "python3"} {
		hookbooktest.RequireTool(t, tool)
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	api, recv := freePort(t), freePort(t)
	_, apiPort, _ := strings.Cut(api, ":")
	_, recvPort, _ := strings.Cut(recv, ":")
	script := strings.NewReplacer(
		"localhost:8080", "localhost:"+apiPort,
		"3000", recvPort,
		"sqlite:devloop.db", "sqlite:"+filepath.Join(dir, "devloop.db"),
	).Replace(s.code)
	out, err := runBash(t, dir, script, "HOOKBOOK_ADDR=127.0.0.1:"+apiPort, "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"both deliveries verified", "[200]", `"event":"booking.created"`, `"status":"pending"`} {
		if !strings.Contains(out, want) {
			t.Errorf("the session's output lacks %s:\n%s", want, out)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "event.json"))
	if !strings.Contains(string(b), `"notes":"window seat"`) || !strings.Contains(string(b), `"participants":2`) {
		t.Errorf("the triggered event lacks its --data: %s", b)
	}
}
