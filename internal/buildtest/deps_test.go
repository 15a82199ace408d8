package buildtest

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vidcomments/vidcomments/internal/stack"
)

// Each service pulls in only the clients its job needs: readsvc never talks
// to Kafka or the binlog, writesvc never to Cassandra, cdc neither to Kafka
// nor Cassandra. A wrong import would blur the failure table of DESIGN.md.
func TestServiceDependencyEdges(t *testing.T) {
	const (
		sarama = "github.com/IBM/sarama"
		canal  = "github.com/go-mysql-org/go-mysql"
		gocql  = "github.com/apache/cassandra-gocql-driver/v2"
	)
	forbidden := map[string][]string{
		"./readsvc":  {sarama, canal},
		"./writesvc": {gocql, canal},
		"./syncer":   {canal},
		"./cdc":      {sarama, gocql},
	}
	for pkg, bad := range forbidden {
		t.Run(pkg, func(t *testing.T) {
			cmd := exec.Command("go", "list", "-deps", pkg)
			cmd.Dir = repoRoot(t)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list -deps %s: %v", pkg, err)
			}
			deps := strings.Fields(string(out))
			if len(deps) < 10 {
				t.Fatalf("go list returned only %d packages", len(deps))
			}
			for _, d := range deps {
				for _, b := range bad {
					if d == b || strings.HasPrefix(d, b+"/") {
						t.Errorf("%s depends on %s", pkg, d)
					}
				}
			}
		})
	}
}

// Only internal/pagecache builds Redis keys (its package doc lists each
// key, who writes it and in which order): a key spelled elsewhere is a
// protocol rule applied outside the one place that states it. Tests may
// spell keys to plant damage; the services, the inspector and bench may
// not.
func TestOnlyPagecacheBuildsRedisKeys(t *testing.T) {
	root := repoRoot(t)
	key := regexp.MustCompile("[\"`]vc:")
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if rel == filepath.Join("internal", "pagecache") || strings.HasPrefix(d.Name(), ".") && rel != "." {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		checked++
		for i, line := range strings.Split(string(b), "\n") {
			if key.MatchString(line) {
				t.Errorf("%s:%d builds a Redis key (only internal/pagecache may): %s", rel, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Fatalf("checked only %d files", checked)
	}
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := stack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}
