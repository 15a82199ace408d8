package openapi

import (
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/vidcomments/vidcomments/internal/comment"
	readapi "github.com/vidcomments/vidcomments/readsvc/api"
	writeapi "github.com/vidcomments/vidcomments/writesvc/api"
)

// document is the part of an OpenAPI 3 document the tests read.
type document struct {
	OpenAPI    string                          `yaml:"openapi"`
	Paths      map[string]map[string]yaml.Node `yaml:"paths"`
	Components struct {
		SecuritySchemes map[string]struct {
			Type         string `yaml:"type"`
			Scheme       string `yaml:"scheme"`
			BearerFormat string `yaml:"bearerFormat"`
		} `yaml:"securitySchemes"`
		Schemas map[string]yaml.Node `yaml:"schemas"`
	} `yaml:"components"`
}

type operation struct {
	Service   string                `yaml:"x-service"`
	Security  []map[string][]string `yaml:"security"`
	Responses map[string]yaml.Node  `yaml:"responses"`
}

var methods = []string{"get", "head", "post", "put", "patch", "delete", "options"}

func load(t *testing.T) document {
	t.Helper()
	var d document
	decodeSpec(t, &d)
	return d
}

// decodeSpec decodes docs/openapi.yaml into v: a document, or a yaml.Node
// for what document leaves out.
func decodeSpec(t *testing.T, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
}

// actionSegment is a documented path's last segment of the form
// {param}:action, which writesvc routes as one parameter ({idAction}) and
// splits itself.
var actionSegment = regexp.MustCompile(`/\{[a-z_]+\}:[a-z]+$`)

// routerPattern maps a documented path to the pattern its router registers.
func routerPattern(path string) string {
	return actionSegment.ReplaceAllString(path, "/{idAction}")
}

// registered walks a router and returns "METHOD pattern" for every route.
func registered(t *testing.T, h http.Handler) []string {
	t.Helper()
	routes, ok := h.(chi.Routes)
	if !ok {
		t.Fatalf("%T is not a chi router", h)
	}
	var out []string
	err := chi.Walk(routes, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		out = append(out, method+" "+route)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// routers builds each service's API router in-process, with nothing behind
// it: only the route table is looked at.
func routers(t *testing.T) map[string][]string {
	t.Helper()
	w, err := writeapi.New(writeapi.Config{Moderation: comment.Pending, MaxRunes: 1000}, nil, nil, nil, nil, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]string{
		"readsvc":  registered(t, readapi.NewHandler(nil, readapi.Options{})),
		"writesvc": registered(t, w.Handler()),
	}
}

// documented returns, per service, "METHOD router-pattern" for every
// documented operation.
func documented(t *testing.T, d document) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for path, item := range d.Paths {
		for key, node := range item {
			if !slices.Contains(methods, key) {
				continue
			}
			var op operation
			if err := node.Decode(&op); err != nil {
				t.Fatalf("%s %s: %v", key, path, err)
			}
			if op.Service == "" {
				t.Errorf("%s %s has no x-service", strings.ToUpper(key), path)
				continue
			}
			out[op.Service] = append(out[op.Service], strings.ToUpper(key)+" "+routerPattern(path))
		}
	}
	for s := range out {
		slices.Sort(out[s])
		out[s] = slices.Compact(out[s])
	}
	return out
}

// Every route a router registers is documented, and every documented
// operation is a route a router registers.
func TestDocumentMatchesRegisteredRoutes(t *testing.T) {
	d := load(t)
	doc, reg := documented(t, d), routers(t)
	for _, svc := range []string{"readsvc", "writesvc"} {
		t.Run(svc, func(t *testing.T) {
			if len(reg[svc]) == 0 {
				t.Fatal("the router registers no routes")
			}
			for _, r := range reg[svc] {
				if !slices.Contains(doc[svc], r) {
					t.Errorf("registered but not in docs/openapi.yaml: %s", r)
				}
			}
			for _, r := range doc[svc] {
				if !slices.Contains(reg[svc], r) {
					t.Errorf("in docs/openapi.yaml but not registered: %s", r)
				}
			}
		})
	}
	for svc := range doc {
		if _, ok := reg[svc]; !ok {
			t.Errorf("x-service %q is not a service with an API router", svc)
		}
	}
}

// The mapping of {id}:action paths is what writesvc's router expects.
func TestRouterPattern(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/v1/mod/comments/{id}:approve", "/v1/mod/comments/{idAction}"},
		{"/v1/mod/users/{id}:unban", "/v1/mod/users/{idAction}"},
		{"/v1/mod/comments:batch", "/v1/mod/comments:batch"},
		{"/v1/videos/{video_id}/comments", "/v1/videos/{video_id}/comments"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := routerPattern(tt.in); got != tt.want {
				t.Errorf("routerPattern(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// The document's shape: OpenAPI 3, the error body, bearer JWT on every
// writesvc operation and none on readsvc's, and each operation lists its
// error answers.
func TestDocumentShape(t *testing.T) {
	d := load(t)
	if !strings.HasPrefix(d.OpenAPI, "3.") {
		t.Errorf("openapi %q, want 3.x", d.OpenAPI)
	}
	if s, ok := d.Components.SecuritySchemes["bearerJWT"]; !ok || s.Type != "http" || s.Scheme != "bearer" || s.BearerFormat != "JWT" {
		t.Errorf("securitySchemes.bearerJWT = %+v, want http bearer JWT", s)
	}
	for _, name := range []string{"Error", "ErrorDetail", "Page", "PublicComment", "ModeratedComment", "NewComment"} {
		if _, ok := d.Components.Schemas[name]; !ok {
			t.Errorf("schema %s missing", name)
		}
	}
	for path, item := range d.Paths {
		for key, node := range item {
			if !slices.Contains(methods, key) {
				continue
			}
			t.Run(strings.ToUpper(key)+" "+path, func(t *testing.T) {
				var op operation
				if err := node.Decode(&op); err != nil {
					t.Fatal(err)
				}
				authed := len(op.Security) > 0 && op.Security[0]["bearerJWT"] != nil
				if authed != (op.Service == "writesvc") {
					t.Errorf("service %s with bearer security %v", op.Service, authed)
				}
				if authed {
					if _, ok := op.Responses["401"]; !ok {
						t.Error("an authenticated operation without a 401 answer")
					}
				}
				var ok2xx bool
				for code := range op.Responses {
					ok2xx = ok2xx || strings.HasPrefix(code, "2")
				}
				if !ok2xx {
					t.Error("no 2xx answer")
				}
				if _, ok := op.Responses["503"]; !ok && key != "head" {
					t.Error("no 503 answer")
				}
			})
		}
	}
}

// A key without a value is never meant in this document: it is what an
// unquoted comma inside a flow mapping ({description: a, b}) turns into.
func TestDocumentHasNoEmptyValues(t *testing.T) {
	var root yaml.Node
	decodeSpec(t, &root)
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if v := n.Content[i+1]; v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
					t.Errorf("line %d: %q has no value", n.Content[i].Line, n.Content[i].Value)
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&root)
}
