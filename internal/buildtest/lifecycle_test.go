package buildtest

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/vidcomments/vidcomments/internal/proctest"
	"github.com/vidcomments/vidcomments/internal/stacktest"
)

// Every service binary starts against the real stack, logs JSON, binds its
// listeners, reports ready only once its dependencies answer, serves
// metrics and pprof on the admin listener, and exits 0 on SIGTERM.
func TestServiceProcessLifecycle(t *testing.T) {
	stacktest.Integration(t)
	bin := t.TempDir()
	// Private database, keyspace and topic: the services must not leave
	// state (a saved binlog position, consumed offsets) in the shared ones.
	my, cass, kafka := stacktest.NewMySQL(t), stacktest.NewCassandra(t), stacktest.NewKafka(t, 1)
	env := []string{
		"VC_MYSQL_DSN=" + my.Config.DSN,
		"VC_CASSANDRA_KEYSPACE=" + cass.Config.Keyspace,
		"VC_KAFKA_TOPIC=" + kafka.Config.Topic,
		"VC_SYNCER_GROUP=" + stacktest.Name("vctg"),
		// writesvc refuses to start without a token secret.
		"VC_JWT_SECRET=lifecycle-test-secret-0123456789abcdef",
	}
	services := map[string][]string{
		"readsvc":  {"-addr", "127.0.0.1:0"},
		"writesvc": {"-addr", "127.0.0.1:0"},
		"syncer":   nil,
		"cdc":      nil,
	}
	if err := proctest.BuildInto(bin, "./readsvc", "./writesvc", "./syncer", "./cdc"); err != nil {
		t.Fatal(err)
	}
	for name, extra := range services {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"-admin-addr", "127.0.0.1:0"}, extra...)
			p := proctest.Start(t, name, filepath.Join(bin, name), env, args...)
			admin := p.Addr("admin")
			p.WaitReady("http://" + admin + "/readyz")
			for path, want := range map[string]string{"/healthz": "ok", "/metrics": "process_resident_memory_bytes", "/debug/pprof/": "heap"} {
				code, body := proctest.Get("http://" + admin + path)
				if code != 200 || !strings.Contains(body, want) {
					t.Errorf("%s %s: %d, body lacks %q", name, path, code, want)
				}
			}

			if err := p.Stop(); err != nil {
				t.Fatalf("%s exited with %v after SIGTERM\n%s", name, err, p.Log())
			}
			if p.Logged("stopped") == nil {
				t.Errorf("%s did not log a clean stop\n%s", name, p.Log())
			}
		})
	}
}
