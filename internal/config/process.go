package config

import "time"

// Process is what every vidcomments binary configures: logging, its admin
// listener and how long it may take to drain at shutdown.
type Process struct {
	LogLevel        string
	AdminAddr       string
	ShutdownTimeout time.Duration
}

// Defaults shared by every binary.
const (
	DefaultLogLevel        = "info"
	DefaultShutdownTimeout = 10 * time.Second
)

// RegisterFlags registers -log-level, -shutdown-timeout (shared env names)
// and -admin-addr (env envPrefix+"ADMIN_ADDR", e.g. VC_READSVC_ADMIN_ADDR).
func (p *Process) RegisterFlags(f *Flags, envPrefix, defaultAdmin string) {
	f.String(&p.LogLevel, "log-level", "VC_LOG_LEVEL", DefaultLogLevel, "debug, info, warn or error")
	f.String(&p.AdminAddr, "admin-addr", envPrefix+"ADMIN_ADDR", defaultAdmin, "admin listener: /healthz /readyz /metrics /debug/pprof/")
	f.Duration(&p.ShutdownTimeout, "shutdown-timeout", "VC_SHUTDOWN_TIMEOUT", DefaultShutdownTimeout, "how long to drain connections at shutdown")
}

// Proc returns p, so a service Config embedding Process satisfies
// server.Config.
func (p *Process) Proc() *Process { return p }
