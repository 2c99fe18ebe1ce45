package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/hookbook/hookbook/internal/hookbooktest"
)

// podmanEnv gives podman a storage and a state of the test's own (nothing
// it builds or runs touches the machine's images and containers, and
// whatever it leaves goes with the test's directory), and the settings
// this machine kind needs: runc, and ulimits within the hard limits a
// container may have here (else runc cannot set them).
func podmanEnv(t *testing.T) []string {
	t.Helper()
	hookbooktest.RequireTool(t, "podman")
	if os.Geteuid() != 0 {
		// Rootless podman maps the container's users to others of the host.
		if os.Getenv("CI") == "true" {
			t.Fatal("the container test runs podman as root: run it as root under CI=true")
		}
		t.Skip("\n\n*** SKIPPED: the container test runs podman as root (rootless podman maps users).\n\n")
	}
	dir, err := os.MkdirTemp("", "podman")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	engine := fmt.Sprintf("[containers]\ndefault_ulimits = [\"nofile=1024:4096\", \"nproc=1024:4096\"]\n[engine]\nruntime = \"runc\"\ntmp_dir = %q\n", filepath.Join(dir, "tmp"))
	os.WriteFile(filepath.Join(dir, "containers.conf"), []byte(engine), 0o644)
	env := []string{"CONTAINERS_CONF=" + filepath.Join(dir, "containers.conf"), "CONTAINERS_STORAGE_CONF=" + filepath.Join(dir, "storage.conf")}
	// overlay where the filesystem takes it, else vfs (copies, slower).
	for _, driver := range []string{"overlay", "vfs"} {
		storage := fmt.Sprintf("[storage]\ndriver = %q\ngraphroot = %q\nrunroot = %q\n", driver, filepath.Join(dir, "root"), filepath.Join(dir, "run"))
		os.WriteFile(filepath.Join(dir, "storage.conf"), []byte(storage), 0o644)
		c := exec.Command("podman", "info", "--format", "{{.Store.GraphDriverName}}")
		c.Env = append(os.Environ(), env...)
		if out, err := c.CombinedOutput(); err == nil {
			t.Logf("podman storage driver: %s", strings.TrimSpace(string(out)))
			return env
		} else if driver == "vfs" {
			t.Fatalf("podman info: %v\n%s", err, out)
		}
	}
	return env
}

// podman runs podman with env and returns its standard output (podman
// logs to stderr that no systemd runs here, for healthchecks' timers);
// an error carries its stderr.
func podman(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	c := hookbooktest.Command(t, "podman", args...)
	c.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		err = fmt.Errorf("podman %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out)), err
}

// TestContainerImage builds the image with the README's commands as they
// stand (a static binary, FROM scratch), runs it as the README does —
// with host networking in place of the published port, so that it reaches
// a receiver on the host's 127.0.0.1 — and checks: /readyz answers, the
// image's healthcheck passes, the process is not root, an event published
// through the API reaches the receiver, the database lives in the volume
// (SQLite; on PostgreSQL the container uses the test's database), and
// SIGTERM stops it cleanly. The container, volume and image go however the
// test ends.
func TestContainerImage(t *testing.T) {
	t.Parallel()
	start := time.Now()
	env := podmanEnv(t)
	hookbooktest.RequireTool(t, "openssl")
	snips := readmeSnippets(t)
	build, run := snips["image-build"].code, snips["image-run"].code
	if !strings.Contains(build, "CGO_ENABLED=0 go build") || !strings.Contains(build, "-f deploy/Containerfile -t hookbook ") {
		t.Fatalf("the build commands changed; update this test:\n%s", build)
	}
	t.Cleanup(func() {
		podman(t, env, "rm", "-f", "-v", "-t", "0", "hookbook")
		podman(t, env, "volume", "rm", "-f", "hookbook-data")
		podman(t, env, "rmi", "-f", "hookbook")
	})
	if out, err := runBash(t, repoRoot(t), build, env...); err != nil {
		t.Fatalf("the README's image build: %v\n%s", err, out)
	}
	t.Logf("built in %s", time.Since(start).Round(time.Second))

	// The image: small, not root, its volume, port and healthcheck.
	out, err := podman(t, env, "image", "inspect", "hookbook")
	if err != nil {
		t.Fatalf("podman image inspect: %v\n%s", err, out)
	}
	var imgs []struct {
		Size   int64
		Config struct {
			User         string
			Volumes      map[string]any
			ExposedPorts map[string]any
			Env          []string
		}
		Healthcheck struct{ Test []string }
	}
	if err := json.Unmarshal([]byte(out), &imgs); err != nil || len(imgs) != 1 {
		t.Fatalf("podman image inspect: %v\n%s", err, out)
	}
	img := imgs[0]
	t.Logf("image size: %.1f MB", float64(img.Size)/1e6)
	if img.Size > 60e6 {
		t.Errorf("the image is %d bytes: more than the binary and CA certificates", img.Size)
	}
	if img.Config.User != "65532:65532" {
		t.Errorf("the image runs as %q, want the numeric user 65532:65532", img.Config.User)
	}
	if _, ok := img.Config.Volumes["/var/lib/hookbook"]; !ok {
		t.Errorf("no volume at /var/lib/hookbook: %v", img.Config.Volumes)
	}
	if _, ok := img.Config.ExposedPorts["8080/tcp"]; !ok {
		t.Errorf("8080 not exposed: %v", img.Config.ExposedPorts)
	}
	if !slices.Contains(img.Config.Env, "HOOKBOOK_DATABASE_URL=sqlite:/var/lib/hookbook/hookbook.db") {
		t.Errorf("the SQLite file is not in the volume: %v", img.Config.Env)
	}
	if !slices.Equal(img.Healthcheck.Test, []string{"CMD", "/usr/local/bin/hookbook", "healthcheck"}) {
		t.Errorf("healthcheck: %v", img.Healthcheck.Test)
	}

	// Run it as the README does, on a port of the test's own.
	addr := freePort(t)
	const publish = "-p 8080:8080"
	if !strings.Contains(run, publish) || !strings.Contains(run, "-e HOOKBOOK_BOOTSTRAP_API_KEY ") {
		t.Fatalf("the run command changed; update this test:\n%s", run)
	}
	network := "--network host -e HOOKBOOK_ADDR=" + addr
	if hookbooktest.Backend() == "postgres" {
		network += " -e HOOKBOOK_DATABASE_URL='" + databaseURL(t) + "'"
	}
	script := strings.Replace(run, publish, network, 1) + "\necho \"key=$HOOKBOOK_BOOTSTRAP_API_KEY\"\n"
	out, err = runBash(t, t.TempDir(), script, env...)
	if err != nil {
		t.Fatalf("the README's run command: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`(?m)^key=(\S{32,})$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no key of 32 characters or more: %s", out)
	}
	p := &proc{t: t, url: "http://" + addr, key: m[1]}
	logs := func() string {
		c := hookbooktest.Command(t, "podman", "logs", "hookbook")
		c.Env = append(os.Environ(), env...)
		out, _ := c.CombinedOutput() // hookbook logs to stderr
		return string(out)
	}
	waitFor(t, 2*time.Minute, "the container to answer /readyz", func() bool {
		code, _, err := p.get("/readyz")
		return err == nil && code == 200
	})
	if want := `"database":"` + hookbooktest.Backend() + `"`; !strings.Contains(logs(), want) {
		t.Errorf("the container's logs lack %s:\n%s", want, logs())
	}
	if out, err := podman(t, env, "healthcheck", "run", "hookbook"); err != nil {
		t.Errorf("podman healthcheck run: %v\n%s", err, out)
	}

	// Not root: the process, seen from the host.
	pid, err := podman(t, env, "inspect", "--format", "{{.State.Pid}}", "hookbook")
	if err != nil {
		t.Fatal(pid, err)
	}
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatal(err)
	}
	if uid := regexp.MustCompile(`(?m)^Uid:\s+(.*)$`).FindStringSubmatch(string(status)); uid == nil || strings.Fields(uid[1])[0] == "0" || !slices.Equal(strings.Fields(uid[1]), []string{"65532", "65532", "65532", "65532"}) {
		t.Errorf("the container's process runs as %v, want 65532", uid)
	}

	// An event published through the API reaches a receiver on the host.
	rc := hookbooktest.NewReceiver(t, nil)
	code, body, err := p.post("/api/v1/webhooks", map[string]any{"url": rc.URL + "/hook", "events": []string{"*"}})
	if err != nil || code != 201 {
		t.Fatalf("create an endpoint: %d %s %v\n%s", code, body, err, logs())
	}
	if code, body, err = p.post("/api/v1/event-types", map[string]any{"name": "container.check", "description": "A check of the container image"}); err != nil || code != 201 {
		t.Fatalf("create an event type: %d %s %v", code, body, err)
	}
	code, body, err = p.post("/api/v1/events", map[string]any{"event": "container.check", "data": map[string]any{"n": 1}})
	if err != nil || code != 202 {
		t.Fatalf("publish: %d %s %v", code, body, err)
	}
	var ev struct{ ID string }
	json.Unmarshal(body, &ev)
	waitFor(t, 2*time.Minute, "the delivery to the host's receiver", func() bool { return rc.Count() > 0 })
	if got := rc.All()[0]; !strings.Contains(string(got.Body), ev.ID) || got.Header.Get("Webhook-Signature") == "" {
		t.Errorf("delivered: %s %v", got.Body, got.Header)
	}

	// The CLI inside, as the README runs it.
	if out, err := podman(t, env, "exec", "hookbook", "hookbook", "org", "list"); err != nil || !strings.Contains(out, `"name":"default"`) {
		t.Errorf("podman exec hookbook hookbook org list: %v\n%s", err, out)
	}
	if hookbooktest.Backend() != "postgres" {
		// The database is in the named volume, the user's own, and so is
		// a backup.
		if out, err := podman(t, env, "exec", "hookbook", "hookbook", "backup", "/var/lib/hookbook/backup.db"); err != nil {
			t.Errorf("podman exec hookbook hookbook backup: %v\n%s", err, out)
		}
		mount, err := podman(t, env, "volume", "inspect", "--format", "{{.Mountpoint}}", "hookbook-data")
		if err != nil {
			t.Fatal(mount, err)
		}
		for _, name := range []string{"hookbook.db", "backup.db"} {
			fi, err := os.Stat(filepath.Join(mount, name))
			if err != nil {
				t.Errorf("no %s in the volume: %v", name, err)
			} else if st, ok := fi.Sys().(*syscall.Stat_t); !ok || st.Uid != 65532 {
				t.Errorf("%s belongs to %v", name, fi.Sys())
			}
		}
	}

	// SIGTERM (podman stop): a graceful stop, exit status 0.
	if out, err := podman(t, env, "stop", "-t", "45", "hookbook"); err != nil {
		t.Fatalf("podman stop: %v\n%s", err, out)
	}
	if code, _ := podman(t, env, "inspect", "--format", "{{.State.ExitCode}}", "hookbook"); code != "0" {
		t.Errorf("exit status after SIGTERM = %s\n%s", code, logs())
	}
	t.Logf("the container test took %s", time.Since(start).Round(time.Second))
}

// TestComposeFile: deploy/compose.yaml parses, runs the image the README
// builds, and sets only settings hookbook reads; the database it names is
// the compose file's PostgreSQL service with its user, password and
// database, and the checks it runs are hookbook's.
func TestComposeFile(t *testing.T) {
	hookbooktest.OncePerSuite(t)
	t.Parallel()
	b, err := os.ReadFile("../deploy/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Services map[string]struct {
			Image       string
			Environment map[string]string
			DependsOn   map[string]struct{ Condition string } `yaml:"depends_on"`
			Ports       []string
			Healthcheck struct{ Test []string }
			Volumes     []string
		}
		Volumes map[string]any
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	hb, pg := f.Services["hookbook"], f.Services["postgres"]
	if hb.Image != "localhost/hookbook:latest" {
		t.Errorf("the hookbook service runs %q, not the image the README builds (hookbook)", hb.Image)
	}
	if !strings.HasPrefix(pg.Image, "docker.io/library/postgres:") {
		t.Errorf("postgres image %q", pg.Image)
	}
	if hb.DependsOn["postgres"].Condition != "service_healthy" {
		t.Errorf("hookbook does not wait for a healthy PostgreSQL: %v", hb.DependsOn)
	}
	src, err := os.ReadFile("../internal/config/config.go")
	if err != nil {
		t.Fatal(err)
	}
	for k := range hb.Environment {
		if !strings.Contains(string(src), `"`+k+`"`) {
			t.Errorf("compose.yaml sets %s, which hookbook does not read", k)
		}
	}
	if pg.Environment["POSTGRES_USER"] != "hookbook" || pg.Environment["POSTGRES_DB"] != "hookbook" || !strings.HasPrefix(pg.Environment["POSTGRES_PASSWORD"], "${POSTGRES_PASSWORD:?") {
		t.Errorf("postgres environment: %v", pg.Environment)
	}
	if want := "postgres://hookbook:${POSTGRES_PASSWORD}@postgres:5432/hookbook?"; !strings.HasPrefix(hb.Environment["HOOKBOOK_DATABASE_URL"], want) {
		t.Errorf("HOOKBOOK_DATABASE_URL = %q, want %s…", hb.Environment["HOOKBOOK_DATABASE_URL"], want)
	}
	if !slices.Equal(hb.Healthcheck.Test, []string{"CMD", "/usr/local/bin/hookbook", "healthcheck"}) {
		t.Errorf("hookbook's healthcheck: %v", hb.Healthcheck.Test)
	}
	if len(pg.Volumes) != 1 || !strings.HasPrefix(pg.Volumes[0], "pgdata:") || f.Volumes == nil {
		t.Errorf("PostgreSQL's data is not in a named volume: %v", pg.Volumes)
	}
	if len(hb.Ports) != 1 || !strings.HasSuffix(hb.Ports[0], ":8080") {
		t.Errorf("ports %v: hookbook listens on 8080 (HOOKBOOK_ADDR's default)", hb.Ports)
	}
	// The Containerfile's settings are hookbook's too.
	cf, err := os.ReadFile("../deploy/Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range regexp.MustCompile(`HOOKBOOK_[A-Z_]+`).FindAllString(string(cf), -1) {
		if !strings.Contains(string(src), `"`+v+`"`) {
			t.Errorf("the Containerfile sets %s, which hookbook does not read", v)
		}
	}
}

// TestReadmeContainer: the README's container section names the files it
// builds from and the healthcheck command the test runs.
func TestReadmeContainer(t *testing.T) {
	hookbooktest.OncePerSuite(t)
	t.Parallel()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(b), "\n## Run it in a container\n")
	section, _, _ = strings.Cut(section, "\n## ")
	for _, want := range []string{"`deploy/Containerfile`", "`deploy/compose.yaml`", "`podman healthcheck run hookbook`",
		"`hookbook healthcheck`", "`CGO_ENABLED=0`", "65532", "/var/lib/hookbook", "`--format docker`"} {
		if !strings.Contains(section, want) {
			t.Errorf("the container section does not mention %s", want)
		}
	}
}
