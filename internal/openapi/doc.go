// Package openapi holds the tests that keep the documents in docs/ in step
// with the code: docs/openapi.yaml with the routes readsvc's and writesvc's
// API routers register, docs/grafana-dashboard.json with the metric names
// the services register, and README.md's dependency table with go.mod. It
// has no code of its own.
package openapi
