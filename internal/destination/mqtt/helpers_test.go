package mqtt

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hookbook/hookbook/internal/brokertest"
)

// startPrivateBroker starts a mosquitto that only this test uses, with a
// password file, so it can refuse a password and be stopped and started
// again.
func startPrivateBroker(t testing.TB, user, pass string) *brokertest.Process {
	t.Helper()
	bin := brokertest.RequireBinary(t, "mosquitto")
	passwd := brokertest.RequireBinary(t, "mosquitto_passwd")
	dir := t.TempDir()
	pwfile := filepath.Join(dir, "passwd")
	if out, err := exec.Command(passwd, "-c", "-b", pwfile, user, pass).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd: %v: %s", err, out)
	}
	port := brokertest.FreePort(t)
	conf := filepath.Join(dir, "mosquitto.conf")
	body := fmt.Sprintf("user root\nlistener %d 127.0.0.1\nallow_anonymous false\npassword_file %s\npersistence false\n", port, pwfile)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return brokertest.StartProcess(t, fmt.Sprintf("127.0.0.1:%d", port), bin, "-c", conf)
}
