package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookbook/hookbook/internal/hookbooktest"
	"github.com/hookbook/hookbook/webhook"
)

// readmeJSVerifyEd25519 runs the README's Node ed25519 verifier, given only
// the endpoint's public key, on a real delivery of an ed25519 endpoint:
// it verifies, and refuses a changed body, a changed timestamp and another
// endpoint's public key.
func readmeJSVerifyEd25519(t *testing.T, s snippet) {
	hookbooktest.RequireTool(t, "node")
	in := start(t, nil)
	rc := newReceiver(t, nil)
	pk := in.createEndpoint(rc.URL, []string{"*"}, map[string]any{"signature_algorithm": "ed25519"})["public_key"].(string)
	in.publish("booking.created", map[string]any{"name": "Zoë <b>&</b> 😀"})
	waitFor(t, 10*time.Second, "the delivery", func() bool { return rc.Count() == 1 })
	d := rc.All()[0]
	headers := map[string]string{}
	for k, v := range d.Header {
		headers[strings.ToLower(k)] = v[0] // as Node presents them
	}
	later := map[string]string{}
	for k, v := range headers {
		later[k] = v
	}
	ts := headers["webhook-timestamp"]
	later["webhook-timestamp"] = ts[:len(ts)-1] + string('0'+(ts[len(ts)-1]-'0'+1)%10)
	_, otherPK, err := webhook.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "verify.cjs"), []byte(s.code+`
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
console.log(verifyEd25519(Buffer.from(input.body, "base64"), input.headers, input.publicKey));
`), 0o644)
	var results []string
	for _, c := range []struct {
		body    []byte
		headers map[string]string
		pk      string
	}{
		{d.Body, headers, pk},
		{bytes.Replace(d.Body, []byte(`"Zoë`), []byte(`"Zoe`), 1), headers, pk},
		{d.Body, later, pk},
		{d.Body, headers, otherPK},
	} {
		in, _ := json.Marshal(map[string]any{"body": c.body, "headers": c.headers, "publicKey": c.pk}) // body as base64: the raw bytes
		cmd := hookbooktest.Command(t, "node", "verify.cjs")
		cmd.Dir = dir
		cmd.Stdin = bytes.NewReader(in)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("node verify.cjs: %v\n%s", err, out)
		}
		results = append(results, strings.TrimSpace(string(out)))
	}
	if got := strings.Join(results, " "); got != "true false false false" {
		t.Errorf("the Node ed25519 verifier on (the delivery, a changed body, a changed timestamp, another public key) = %s", got)
	}
}
