// Package server is the process plumbing every vidcomments binary shares:
// JSON logging, the admin listener (/healthz, /readyz, /metrics,
// /debug/pprof/), and the App that starts listeners, waits for a signal and
// shuts down gracefully — not-ready first, drain with a fresh timeout, then
// close components in reverse order of construction.
package server
