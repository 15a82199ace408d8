package staticpage

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/fstest"
)

func TestHandler(t *testing.T) {
	files := fstest.MapFS{"assets/index.html": {Data: []byte("<p>hi</p>")}}
	h := Handler("/page/", files, "assets", "default-src 'none'")
	tests := []struct {
		path string
		code int
	}{{"/page/", 200}, {"/page/index.html", 301}, {"/page/nope.js", 404}}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
			if rec.Code != tt.code {
				t.Errorf("GET %s: %d, want %d", tt.path, rec.Code, tt.code)
			}
			for k, want := range map[string]string{
				"Content-Security-Policy": "default-src 'none'", "X-Content-Type-Options": "nosniff",
				"Referrer-Policy": "no-referrer",
			} {
				if got := rec.Header().Get(k); got != want {
					t.Errorf("GET %s: %s %q, want %q", tt.path, k, got, want)
				}
			}
			if got := rec.Header().Get("Cache-Control"); tt.code == 200 && got != "no-cache" {
				t.Errorf("GET %s: Cache-Control %q, want no-cache", tt.path, got)
			}
		})
	}
}
