package e2e

import (
	"github.com/hookbook/hookbook/internal/hookbooktest"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSourcesAreFormatted: every Go file is as gofmt writes it.
func TestSourcesAreFormatted(t *testing.T) {
	hookbooktest.OncePerSuite(t)
	t.Parallel()
	out, err := exec.Command("gofmt", "-l", "..").CombinedOutput()
	if err != nil {
		t.Fatalf("gofmt: %v\n%s", err, out)
	}
	if files := strings.TrimSpace(string(out)); files != "" {
		t.Errorf("not gofmt-formatted (run gofmt -w):\n%s", files)
	}
}

// TestPackageCommentsAreTrue: every package's doc comment names the
// package it documents ("Package x …", "Command hookbook …" for the
// binary), and no comment speaks of packages hookbook no longer has.
func TestPackageCommentsAreTrue(t *testing.T) {
	hookbooktest.OncePerSuite(t)
	t.Parallel()
	for _, dir := range []string{"..", "../webhook"} {
		cmd := exec.Command("go", "list", "-f", "{{.ImportPath}}\t{{.Name}}\t{{.Doc}}\t{{len .GoFiles}}", "./...")
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list in %s: %v", dir, err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			f := strings.Split(line, "\t")
			path, name, doc := f[0], f[1], f[2]
			if f[3] == "0" {
				continue // tests only
			}
			want := "Package " + name + " "
			if name == "main" {
				want = "Command " + path[strings.LastIndex(path, "/")+1:] + " "
			}
			if !strings.HasPrefix(doc, want) {
				t.Errorf("%s: the package comment begins %q, want %q", path, doc, want)
			}
			if !strings.HasSuffix(doc, ".") {
				t.Errorf("%s: the package comment's first sentence is cut: %q", path, doc)
			}
		}
	}
	// Names of packages long renamed (store → db, api → httpapi, app →
	// server, hub → outbound), spelled so that this file does not match.
	gone := regexp.MustCompile(`(package|Package) (st` + `ore|a` + `pi|a` + `pp|h` + `ub)\b|\bst` + `ore\.Tx\b`)
	err := filepath.WalkDir("..", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			if c := strings.Index(line, "//"); c >= 0 && gone.MatchString(line[c:]) {
				t.Errorf("%s:%d names a package hookbook no longer has: %s", p, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
