package cdn

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

// The varnish service of docker-compose.yml: in front of the readsvc
// service, purgeable from the private networks compose assigns.
const composeBackend = "readsvc:8080"

var composePurgers = []string{"127.0.0.1", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"}

var update = flag.Bool("update", false, "rewrite scripts/compose/varnish.vcl")

// The VCL of docker-compose.yml's varnish service, checked in because
// compose mounts it: this package's VCL for the readsvc service, purgeable
// from the private networks compose puts cdc on. go test ./internal/cdn
// -update rewrites it.
func TestComposeVCLIsCurrent(t *testing.T) {
	want, err := VCL(composeBackend, composePurgers...)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "..", "scripts", "compose", "varnish.vcl")
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s is not what cdn.VCL makes of %s: run go test ./internal/cdn -run ComposeVCL -update", path, composeBackend)
	}
}

func TestVCLRefusesABadPurger(t *testing.T) {
	for _, p := range []string{"cdc", "10.0.0.0/x", ""} {
		if _, err := VCL("readsvc:8080", p); err == nil {
			t.Errorf("VCL accepted purger %q", p)
		}
	}
}
