package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/pprof"
	"regexp"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// CheckTimeout bounds each readiness check.
const CheckTimeout = 2 * time.Second

// Check reports whether one dependency is usable right now.
type Check func(ctx context.Context) error

// Admin serves the operational endpoints on their own listener, never on the
// API listener and never through http.DefaultServeMux.
type Admin struct {
	reg    *prometheus.Registry
	ready  atomic.Bool
	mu     sync.Mutex
	checks map[string]Check
}

// NewAdmin returns an Admin exporting reg (plus Go and process collectors,
// registered here) and not yet ready. Beside the default Go metrics it
// exports the runtime's CPU classes of the collector
// (go_cpu_classes_gc_*_cpu_seconds_total): the share of a process's CPU
// its garbage collector takes, which a memory limit set too tight drives up
// long before anything fails.
func NewAdmin(reg *prometheus.Registry) *Admin {
	reg.MustRegister(
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^/cpu/classes/gc/`)})),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Admin{reg: reg, checks: map[string]Check{}}
}

// AddCheck adds a named readiness check.
func (a *Admin) AddCheck(name string, c Check) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.checks[name] = c
}

// SetReady marks the process as able (or no longer able) to take traffic.
func (a *Admin) SetReady(ready bool) { a.ready.Store(ready) }

// Handler returns the admin mux.
func (a *Admin) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", a.serveReady)
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{Registry: a.reg}))
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

type readyReport struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// serveReady runs every check concurrently, each bounded by CheckTimeout.
func (a *Admin) serveReady(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	names := make([]string, 0, len(a.checks))
	for n := range a.checks {
		names = append(names, n)
	}
	checks := make([]Check, len(names))
	sort.Strings(names)
	for i, n := range names {
		checks[i] = a.checks[n]
	}
	a.mu.Unlock()

	results := make([]error, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(r.Context(), CheckTimeout)
			defer cancel()
			results[i] = c(ctx)
		}()
	}
	wg.Wait()

	rep := readyReport{Status: "ready", Checks: map[string]string{}}
	code := http.StatusOK
	for i, n := range names {
		if results[i] != nil {
			rep.Checks[n] = results[i].Error()
			rep.Status, code = "not ready", http.StatusServiceUnavailable
		} else {
			rep.Checks[n] = "ok"
		}
	}
	if !a.ready.Load() {
		rep.Status, code = "not ready", http.StatusServiceUnavailable
		rep.Checks["process"] = "starting or shutting down"
	}
	writeJSON(w, code, rep)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
