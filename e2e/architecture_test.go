package e2e

import (
	"github.com/hookbook/hookbook/internal/hookbooktest"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// TestArchitectureMapIsTrue: the README's package map (the architecture
// section) names exactly the internal imports of every package, as go list
// reports them, and lists each package above everything it imports.
func TestArchitectureMapIsTrue(t *testing.T) {
	hookbooktest.OncePerSuite(t)
	t.Parallel()
	const module = "github.com/hookbook/hookbook/"
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(readme)
	if i := strings.Index(section, "\n## Architecture\n"); i >= 0 {
		section = section[i:]
	} else {
		t.Fatal("README has no Architecture section")
	}
	block := regexp.MustCompile("(?s)```text\n(.*?)```").FindStringSubmatch(section)
	if block == nil {
		t.Fatal("the Architecture section has no package map")
	}
	documented := map[string][]string{}
	var order []string
	for _, line := range strings.Split(strings.TrimSpace(block[1]), "\n") {
		from, to, ok := strings.Cut(line, "─▶")
		if !ok {
			t.Fatalf("a line of the package map without ─▶: %q", line)
		}
		var imports []string
		if to = strings.TrimSpace(to); to != "nothing internal" {
			for _, name := range strings.Split(to, ",") {
				imports = append(imports, "internal/"+strings.TrimSpace(name))
			}
		}
		for _, pkg := range strings.Split(from, ",") {
			pkg = strings.TrimSpace(pkg)
			if _, dup := documented[pkg]; dup {
				t.Errorf("%s is in the package map twice", pkg)
			}
			documented[pkg] = imports
			order = append(order, pkg)
		}
	}

	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./...")
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	actual := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg := strings.TrimPrefix(f[0], module)
		if !strings.HasPrefix(pkg, "internal/") && !strings.HasPrefix(pkg, "cmd/") {
			continue // the root package, webhook and e2e: not in the map
		}
		actual[pkg] = []string{}
		for _, imp := range f[1:] {
			if strings.HasPrefix(imp, module+"internal/") {
				actual[pkg] = append(actual[pkg], strings.TrimPrefix(imp, module))
			}
		}
	}
	for pkg, imports := range actual {
		want, ok := documented[pkg]
		if !ok {
			t.Errorf("%s is not in the README's package map", pkg)
			continue
		}
		for _, imp := range imports {
			if !slices.Contains(want, imp) {
				t.Errorf("README: %s ─▶ %s is missing (go list has it)", pkg, imp)
			}
		}
		for _, imp := range want {
			if !slices.Contains(imports, imp) {
				t.Errorf("README: %s ─▶ %s is one edge too many (%s does not import it)", pkg, imp, pkg)
			}
		}
	}
	for pkg := range documented {
		if _, ok := actual[pkg]; !ok {
			t.Errorf("the README's package map names %s, which is not a package", pkg)
		}
	}
	// Each package above what it imports: the map reads top down.
	for i, pkg := range order {
		for _, imp := range documented[pkg] {
			if j := slices.Index(order, imp); j >= 0 && j <= i {
				t.Errorf("README: %s imports %s, listed above it", pkg, imp)
			}
		}
	}
	if t.Failed() {
		var lines []string
		for pkg, imports := range actual {
			lines = append(lines, pkg+" ─▶ "+strings.Join(imports, ", "))
		}
		sort.Strings(lines)
		t.Logf("go list:\n%s", strings.Join(lines, "\n"))
	}
}
