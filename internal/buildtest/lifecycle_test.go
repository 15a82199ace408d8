package buildtest

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/stack"
	"github.com/vidcomments/vidcomments/internal/stacktest"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := stack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// logWatcher collects a process's JSON log lines and finds the address each
// listener bound (the services log "listening" with listener and addr).
type logWatcher struct {
	mu    sync.Mutex
	lines []map[string]any
	raw   strings.Builder
}

func (w *logWatcher) consume(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var m map[string]any
		w.mu.Lock()
		w.raw.WriteString(sc.Text() + "\n")
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			w.lines = append(w.lines, m)
		}
		w.mu.Unlock()
	}
}

func (w *logWatcher) find(msg, key, val string) map[string]any {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, l := range w.lines {
		if l["msg"] == msg && (key == "" || l[key] == val) {
			return l
		}
	}
	return nil
}

func (w *logWatcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.raw.String()
}

// Every service binary starts against the real stack, logs JSON, binds its
// listeners, reports ready only once its dependencies answer, serves
// metrics and pprof on the admin listener, and exits 0 on SIGTERM.
func TestServiceProcessLifecycle(t *testing.T) {
	stacktest.Integration(t)
	root := repoRoot(t)
	bin := t.TempDir()
	// Private database, keyspace and topic: the services must not leave
	// state (a saved binlog position, consumed offsets) in the shared ones.
	my, cass, kafka := stacktest.NewMySQL(t), stacktest.NewCassandra(t), stacktest.NewKafka(t, 1)
	env := append(os.Environ(),
		"VC_MYSQL_DSN="+my.Config.DSN,
		"VC_CASSANDRA_KEYSPACE="+cass.Config.Keyspace,
		"VC_KAFKA_TOPIC="+kafka.Config.Topic,
		"VC_SYNCER_GROUP="+stacktest.Name("vctg"),
		// writesvc refuses to start without a token secret.
		"VC_JWT_SECRET=lifecycle-test-secret-0123456789abcdef",
	)
	services := map[string][]string{
		"readsvc":  {"-addr", "127.0.0.1:0"},
		"writesvc": {"-addr", "127.0.0.1:0"},
		"syncer":   nil,
		"cdc":      nil,
	}
	for name := range services {
		cmd := exec.Command("go", "build", "-o", filepath.Join(bin, name), "./"+name)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", name, err, out)
		}
	}
	for name, extra := range services {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"-admin-addr", "127.0.0.1:0"}, extra...)
			cmd := exec.Command(filepath.Join(bin, name), args...)
			cmd.Env = env
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			logs := &logWatcher{}
			drained := make(chan struct{})
			go func() { logs.consume(stderr); close(drained) }()
			exited := make(chan error, 1)
			go func() { <-drained; exited <- cmd.Wait() }()
			t.Cleanup(func() { _ = cmd.Process.Kill() })

			var admin string
			deadline := time.After(60 * time.Second)
			for admin == "" {
				if l := logs.find("listening", "listener", "admin"); l != nil {
					admin, _ = l["addr"].(string)
					break
				}
				select {
				case err := <-exited:
					t.Fatalf("%s exited before listening: %v\n%s\n(is the stack up? scripts/stack up)", name, err, logs)
				case <-deadline:
					t.Fatalf("%s never logged its admin listener\n%s", name, logs)
				case <-time.After(20 * time.Millisecond):
				}
			}

			waitReady(t, "http://"+admin+"/readyz", logs)
			for path, want := range map[string]string{"/healthz": "ok", "/metrics": "process_resident_memory_bytes", "/debug/pprof/": "heap"} {
				code, body := fetch(t, "http://"+admin+path)
				if code != 200 || !strings.Contains(body, want) {
					t.Errorf("%s %s: %d, body lacks %q", name, path, code, want)
				}
			}

			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-exited:
				if err != nil {
					t.Fatalf("%s exited with %v after SIGTERM\n%s", name, err, logs)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("%s still running 30s after SIGTERM\n%s", name, logs)
			}
			if logs.find("stopped", "", "") == nil {
				t.Errorf("%s did not log a clean stop\n%s", name, logs)
			}
		})
	}
}

func fetch(t *testing.T, url string) (int, string) {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func waitReady(t *testing.T, url string, logs *logWatcher) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body := fetch(t, url)
		if code == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never ready: %d %s\n%s", url, code, body, logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
