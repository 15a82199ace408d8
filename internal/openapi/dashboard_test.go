package openapi

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// metricName finds the service metric names in a PromQL expression.
var metricName = regexp.MustCompile(`\b(?:readsvc|writesvc|syncer|cdc)_[a-z0-9_]+\b`)

// dashboardExprs returns every expr of every panel target.
func dashboardExprs(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("docs/grafana-dashboard.json: %v", err)
	}
	var out []string
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			out = append(out, tg.Expr)
		}
	}
	return out
}

// fileLiterals returns the string literals of each non-test Go file of the
// four services and internal/.
func fileLiterals(t *testing.T) [][]string {
	t.Helper()
	var out [][]string
	fset := token.NewFileSet()
	for _, dir := range []string{"readsvc", "writesvc", "syncer", "cdc", "internal"} {
		root := filepath.Join("..", "..", dir)
		err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			var lits []string
			ast.Inspect(f, func(n ast.Node) bool {
				if bl, ok := n.(*ast.BasicLit); ok && bl.Kind == token.STRING {
					if s, err := strconv.Unquote(bl.Value); err == nil {
						lits = append(lits, s)
					}
				}
				return true
			})
			out = append(out, lits)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// inCode reports whether name is a literal of some file, or is built there
// from three of its literals (prefix+part+suffix, as readsvc's groupcache
// collector does).
func inCode(name string, files [][]string) bool {
	for _, lits := range files {
		if slices.Contains(lits, name) {
			return true
		}
		for _, pre := range lits {
			rest, ok := strings.CutPrefix(name, pre)
			if !ok || pre == "" || rest == name {
				continue
			}
			for _, suf := range lits {
				mid, ok := strings.CutSuffix(rest, suf)
				if ok && suf != "" && mid != "" && slices.Contains(lits, mid) {
					return true
				}
			}
		}
	}
	return false
}

// registeredName strips the series suffixes of a histogram or summary when
// the base name is in the code.
func registeredName(name string, files [][]string) bool {
	if inCode(name, files) {
		return true
	}
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suf); ok && inCode(base, files) {
			return true
		}
	}
	return false
}

// Every metric the dashboard queries is one the code registers.
func TestDashboardMetricsExist(t *testing.T) {
	exprs := dashboardExprs(t)
	if len(exprs) < 20 {
		t.Fatalf("only %d exprs in the dashboard", len(exprs))
	}
	files := fileLiterals(t)
	seen := map[string]bool{}
	for _, e := range exprs {
		names := metricName.FindAllString(e, -1)
		if len(names) == 0 {
			t.Errorf("expr names no service metric: %s", e)
		}
		for _, n := range names {
			if seen[n] {
				continue
			}
			seen[n] = true
			if !registeredName(n, files) {
				t.Errorf("dashboard queries %s, which no service registers", n)
			}
		}
	}
	for _, prefix := range []string{"readsvc_", "writesvc_", "syncer_", "cdc_"} {
		var found bool
		for n := range seen {
			found = found || strings.HasPrefix(n, prefix)
		}
		if !found {
			t.Errorf("no %s metric on the dashboard", prefix)
		}
	}
}

// The matcher itself: real names pass, near misses fail.
func TestRegisteredNameMatcher(t *testing.T) {
	files := [][]string{{"readsvc_http_request_seconds"}, {"readsvc_groupcache_", "hits", "_total"}}
	tests := []struct {
		name string
		want bool
	}{
		{"readsvc_http_request_seconds", true},
		{"readsvc_http_request_seconds_bucket", true},
		{"readsvc_http_request_second_bucket", false},
		{"readsvc_groupcache_hits_total", true},
		{"readsvc_groupcache_misses_total", false},
		{"readsvc_http_request_seconds_total", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := registeredName(tt.name, files); got != tt.want {
				t.Errorf("registeredName(%q) = %v, want %v", tt.name, got, tt.want)
			}
		})
	}
}

// Every metric the README's metrics reference names is registered too.
func TestReadmeMetricsExist(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	names := metricName.FindAllString(string(b), -1)
	if len(names) < 20 {
		t.Fatalf("only %d metric names in README.md", len(names))
	}
	files := fileLiterals(t)
	slices.Sort(names)
	for _, n := range slices.Compact(names) {
		if !registeredName(n, files) {
			t.Errorf("README.md names %s, which no service registers", n)
		}
	}
}
