package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String()
}

func TestReadyz(t *testing.T) {
	down := errors.New("connection refused")
	tests := []struct {
		name     string
		ready    bool
		checks   map[string]error
		wantCode int
		wantIn   []string
	}{
		{"all checks pass", true, map[string]error{"redis": nil, "mysql": nil}, 200, []string{`"status":"ready"`, `"redis":"ok"`}},
		{"a dependency is down", true, map[string]error{"redis": nil, "mysql": down}, 503, []string{`"status":"not ready"`, `"mysql":"connection refused"`}},
		{"shutting down", false, map[string]error{"redis": nil}, 503, []string{`"process":"starting or shutting down"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := NewAdmin(prometheus.NewRegistry())
			for name, err := range tt.checks {
				a.AddCheck(name, func(context.Context) error { return err })
			}
			a.SetReady(tt.ready)
			code, body := get(t, a.Handler(), "/readyz")
			if code != tt.wantCode {
				t.Errorf("code %d, want %d (%s)", code, tt.wantCode, body)
			}
			for _, s := range tt.wantIn {
				if !strings.Contains(body, s) {
					t.Errorf("body %s lacks %s", body, s)
				}
			}
		})
	}
}

func TestReadyzBoundsASlowCheck(t *testing.T) {
	a := NewAdmin(prometheus.NewRegistry())
	a.SetReady(true)
	a.AddCheck("stuck", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	start := time.Now()
	code, _ := get(t, a.Handler(), "/readyz")
	if code != 503 || time.Since(start) > CheckTimeout+time.Second {
		t.Errorf("code %d after %v: a stuck check must fail within CheckTimeout", code, time.Since(start))
	}
}

func TestAdminEndpoints(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := NewAdmin(reg)
	for _, tc := range []struct{ path, want string }{
		{"/healthz", `"status":"ok"`},
		{"/metrics", "go_goroutines"},
		{"/metrics", "go_cpu_classes_gc_total_cpu_seconds_total"}, // the collector's CPU share (bench reports it)
		{"/debug/pprof/", "goroutine"},
	} {
		path, want := tc.path, tc.want
		code, body := get(t, a.Handler(), path)
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("%s: %d, body lacks %q", path, code, want)
		}
	}
}

func TestAppRunsAndShutsDownInOrder(t *testing.T) {
	a := NewApp("test", quiet(), NewAdmin(prometheus.NewRegistry()), "127.0.0.1:0")
	a.AddServer("api", "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "hi") }))
	var closed []string
	a.OnClose("first", func() error { closed = append(closed, "first"); return nil })
	a.OnClose("second", func() error { closed = append(closed, "second"); return nil })

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()

	// Wait on the condition: ready means listening.
	var admin string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if a.Admin.ready.Load() {
			admin = a.Addr("admin")
			break
		}
	}
	if admin == "" {
		t.Fatal("app never became ready")
	}
	resp, err := http.Get("http://" + a.Addr("api"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hi" {
		t.Errorf("api said %q", body)
	}
	resp, err = http.Get("http://" + admin + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var rep readyReport
	_ = json.NewDecoder(resp.Body).Decode(&rep)
	resp.Body.Close()
	if rep.Status != "ready" {
		t.Errorf("readyz status %q", rep.Status)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if strings.Join(closed, ",") != "second,first" {
		t.Errorf("closed in order %v, want reverse of registration", closed)
	}
	if a.Admin.ready.Load() {
		t.Error("still ready after shutdown")
	}
}

func TestAppFailsFastOnATakenPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a := NewApp("test", quiet(), NewAdmin(prometheus.NewRegistry()), ln.Addr().String())
	closed := false
	a.OnClose("c", func() error { closed = true; return nil })
	err = a.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "admin listener") {
		t.Errorf("Run on a taken port: %v", err)
	}
	if !closed {
		t.Error("components not closed after a failed start")
	}
}

func TestNewLoggerRejectsUnknownLevel(t *testing.T) {
	if _, err := NewLogger(io.Discard, "loud"); err == nil {
		t.Error("level loud accepted")
	}
	if _, err := NewLogger(io.Discard, "warn"); err != nil {
		t.Error(err)
	}
}

func TestAppStopsOnAWatchedComponentError(t *testing.T) {
	a := NewApp("test", quiet(), NewAdmin(prometheus.NewRegistry()), "127.0.0.1:0")
	closed := false
	a.OnClose("component", func() error { closed = true; return nil })
	fatal := make(chan error, 1)
	a.Watch("component", fatal)
	quiet := make(chan error) // a watched component that never fails
	a.Watch("calm", quiet)

	done := make(chan error, 1)
	go func() { done <- a.Run(context.Background()) }()
	for deadline := time.Now().Add(5 * time.Second); !a.Admin.ready.Load(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("app never became ready")
		}
	}
	boom := errors.New("saved position purged")
	fatal <- boom
	select {
	case err := <-done:
		if !errors.Is(err, boom) || !strings.Contains(err.Error(), "component: saved position purged") {
			t.Errorf("Run returned %v, want the component's error named", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a watched component's error did not stop the app")
	}
	if !closed {
		t.Error("components not closed after a component failed")
	}
}
