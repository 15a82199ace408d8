package apiclient

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The checked-in client is what oapi-codegen makes of the current
// docs/openapi.yaml with oapi-codegen.yaml: regenerated into a temporary
// directory, it must be the same bytes.
func TestGeneratedCodeIsFresh(t *testing.T) {
	const generated = "apiclient.gen.go"
	spec, err := filepath.Abs(filepath.Join("..", "..", "docs", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// The config names its output relative to the working directory, so
	// the generator runs in a copy of it: the checked-in file is only read.
	cfg, err := os.ReadFile("oapi-codegen.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "oapi-codegen.yaml"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	// `go tool -n` builds the version go.mod pins and prints its path.
	path, err := exec.Command("go", "tool", "-n", "oapi-codegen").Output()
	if err != nil {
		t.Fatalf("go tool -n oapi-codegen: %v", err)
	}
	cmd := exec.Command(strings.TrimSpace(string(path)), "-config", "oapi-codegen.yaml", spec)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("oapi-codegen: %v\n%s", err, out)
	}
	want, err := os.ReadFile(filepath.Join(dir, generated))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(generated)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is not what oapi-codegen makes of docs/openapi.yaml (%s); run `go generate ./internal/apiclient` and commit the result", generated, firstDifference(got, want))
	}
}

// firstDifference names the first line where the checked-in and the
// regenerated file part.
func firstDifference(got, want []byte) string {
	g, w := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
	for i := 0; i < len(g) && i < len(w); i++ {
		if !bytes.Equal(g[i], w[i]) {
			return fmt.Sprintf("first difference at line %d: checked in %q, generated %q", i+1, g[i], w[i])
		}
	}
	return fmt.Sprintf("checked in %d lines, generated %d", len(g), len(w))
}
