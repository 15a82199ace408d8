package openapi

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every module go.mod requires directly has a row, with its reason, in the
// README's dependency table.
func TestReadmeExplainsEveryDirectDependency(t *testing.T) {
	gomod, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var direct []string
	inRequire := false
	for _, line := range strings.Split(string(gomod), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "require (":
			inRequire = true
		case line == ")":
			inRequire = false
		case inRequire && line != "" && !strings.Contains(line, "// indirect"):
			direct = append(direct, strings.Fields(line)[0])
		}
	}
	if len(direct) < 10 {
		t.Fatalf("found only %d direct requirements in go.mod", len(direct))
	}
	for _, mod := range direct {
		t.Run(mod, func(t *testing.T) {
			if !strings.Contains(string(readme), "| `"+mod+"` | ") {
				t.Errorf("README.md's dependency table has no row for %s", mod)
			}
		})
	}
}
