package demo

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandlerServesFilesWithStrictHeaders(t *testing.T) {
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"api":true}`)
	})
	h := Mount(api)
	tests := []struct {
		name, path   string
		code         int
		typ, inBody  string
		demoHeaders  bool
		wantLocation string
	}{
		{"index", "/demo/", 200, "text/html", `<script src="app.js" defer></script>`, true, ""},
		{"index with a video", "/demo/?video=1", 200, "text/html", `id="next"`, true, ""},
		{"script", "/demo/app.js", 200, "text/javascript", "textContent", true, ""},
		{"style", "/demo/app.css", 200, "text/css", "#comments", true, ""},
		{"unknown file", "/demo/nope.js", 404, "", "", true, ""},
		{"bare /demo redirects", "/demo", 301, "", "", false, "/demo/"},
		{"api still routed", "/v1/videos/1/comments", 200, "application/json", `{"api":true}`, false, ""},
		{"api path cleaned first", "/v1/videos/1/../1/comments", 307, "", "", false, "/v1/videos/1/comments"},
		{"api path with an empty segment cleaned first", "/v1//videos/1/comments", 307, "", "", false, "/v1/videos/1/comments"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
			if rec.Code != tc.code {
				t.Fatalf("GET %s: %d, want %d", tc.path, rec.Code, tc.code)
			}
			hdr := rec.Header()
			if tc.typ != "" && !strings.HasPrefix(hdr.Get("Content-Type"), tc.typ) {
				t.Errorf("Content-Type %q, want %s", hdr.Get("Content-Type"), tc.typ)
			}
			if !strings.Contains(rec.Body.String(), tc.inBody) {
				t.Errorf("body lacks %q", tc.inBody)
			}
			if tc.wantLocation != "" && hdr.Get("Location") != tc.wantLocation {
				t.Errorf("Location %q, want %q", hdr.Get("Location"), tc.wantLocation)
			}
			csp := hdr.Get("Content-Security-Policy")
			if !tc.demoHeaders {
				if csp != "" {
					t.Errorf("CSP %q leaked onto a non-demo path", csp)
				}
				return
			}
			if csp != CSP {
				t.Errorf("CSP %q, want %q", csp, CSP)
			}
			for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("CSP lacks %q", want)
				}
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
				t.Errorf("CSP allows inline or eval: %q", csp)
			}
			for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"} {
				if hdr.Get(k) != v {
					t.Errorf("%s %q, want %q", k, hdr.Get(k), v)
				}
			}
		})
	}
}

// The page must never put API data into markup and must load nothing from
// another origin.
func TestAssetsRenderTextOnlyAndStayLocal(t *testing.T) {
	for _, name := range []string{"assets/index.html", "assets/app.js", "assets/app.css"} {
		t.Run(name, func(t *testing.T) {
			b, err := assets.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			s := string(b)
			for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "http://", "https://", "<script>", "style="} {
				if strings.Contains(s, bad) {
					t.Errorf("%s contains %q", name, bad)
				}
			}
		})
	}
}
