// Package buildtest holds tests over the service binaries as wholes: which
// packages each may depend on, and how each process starts, reports ready
// and shuts down on SIGTERM against the real local stack.
package buildtest
