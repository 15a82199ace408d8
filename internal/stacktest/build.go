package stacktest

import (
	"net"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/vidcomments/vidcomments/internal/stack"
)

// Build compiles the main package pkg ("./cdc") into the test's temporary
// directory and returns the binary's path, for tests that run a service as
// a real process (kill -9, two processes, SIGTERM).
func Build(t testing.TB, pkg string) string {
	t.Helper()
	Integration(t)
	root, err := stack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// FreeAddr returns a loopback address nothing listens on right now, for a
// process the test starts (a small race with other listeners is possible).
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
