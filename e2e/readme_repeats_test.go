package e2e

import (
	"github.com/hookbook/hookbook/internal/hookbooktest"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeSaysThingsOnce: no table of README.md has two rows about the
// same thing (its first cell), no sentence of its prose appears twice,
// and no paragraph repeats a run of ten words.
func TestReadmeSaysThingsOnce(t *testing.T) {
	hookbooktest.OncePerSuite(t)
	t.Parallel()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var prose, para []string
	rows := map[string]int{}
	inCode := false
	for i, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "```"):
			inCode = !inCode
		case inCode:
		case strings.HasPrefix(line, "|"):
			cell := strings.TrimSpace(strings.Split(line, "|")[1])
			if prev, ok := rows[cell]; ok && !strings.HasPrefix(cell, "---") {
				t.Errorf("README lines %d and %d: two table rows about %q", prev, i+1, cell)
			}
			rows[cell] = i + 1
		default:
			if strings.TrimSpace(line) == "" {
				rows = map[string]int{} // a new table starts afresh
				checkParagraph(t, para)
				para = nil
			}
			prose, para = append(prose, line), append(para, line)
		}
	}
	text := strings.Join(strings.Fields(strings.Join(prose, " ")), " ")
	seen := map[string]bool{}
	for _, s := range regexp.MustCompile(`[^.!?]+[.!?]`).FindAllString(text, -1) {
		s = strings.TrimSpace(s)
		if len(s) < 60 {
			continue
		}
		if seen[s] {
			t.Errorf("README says twice: %q", s)
		}
		seen[s] = true
	}
}

// checkParagraph fails when the paragraph's lines hold a run of ten words
// twice.
func checkParagraph(t *testing.T, lines []string) {
	t.Helper()
	words := strings.Fields(strings.Join(lines, " "))
	seen := map[string]bool{}
	for i := 0; i+10 <= len(words); i++ {
		run := strings.Join(words[i:i+10], " ")
		if seen[run] {
			t.Errorf("README repeats in one paragraph: %q", run)
			return
		}
		seen[run] = true
	}
}
