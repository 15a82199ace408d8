package buildtest

import (
	"os/exec"
	"strings"
	"testing"
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
