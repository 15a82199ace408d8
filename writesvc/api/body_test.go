package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestDecodeStrict(t *testing.T) {
	type body struct {
		Content string   `json:"content"`
		IDs     []string `json:"ids,omitempty"`
	}
	tests := []struct {
		in, code string
	}{
		{`{"content":"x"}`, ""},
		{` {"content":"x","ids":["1"]} `, ""},
		{`{"content":"x","content":"y"}`, "invalid_json"},
		{`{"Content":"x"}`, "unknown_field"},
		{`{"content":"x","other":{}}`, "unknown_field"},
		{`{"content":1}`, "invalid_field"},
		{`{"ids":"1"}`, "invalid_field"},
		{`{"content":"x"} []`, "invalid_json"},
		{`[]`, "invalid_json"},
		{``, "invalid_json"},
		{`{"content":` + strings.Repeat("[", 20) + strings.Repeat("]", 20) + `}`, "invalid_json"},
		{`{"ids":[{"a":1,"a":2}]}`, "invalid_json"}, // duplicates are refused at any depth
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var b body
			err := decodeStrict([]byte(tt.in), &b)
			got := ""
			if err != nil {
				got = err.code
			}
			if got != tt.code {
				t.Errorf("code %q, want %q (%v)", got, tt.code, err)
			}
		})
	}
}

func TestCheckContentType(t *testing.T) {
	for ct, ok := range map[string]bool{
		"application/json": true, "application/json; charset=utf-8": true, "Application/JSON; Charset=UTF-8": true,
		"": false, "text/json": false, "application/json; charset=utf-16": false, "application/json; boundary=x": false,
		"application/json;;": false, "application/jsonx": false,
	} {
		var values []string
		if ct != "" {
			values = []string{ct}
		}
		if err := checkContentType(values); (err == nil) != ok {
			t.Errorf("%q: %v, want ok=%v", ct, err, ok)
		}
	}
	if err := checkContentType([]string{"application/json", "application/json"}); err == nil {
		t.Error("two Content-Type headers accepted")
	}
}

func TestReadBodyOptional(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	if b, err := readBody(httptest.NewRecorder(), r, true); b != nil || err != nil {
		t.Errorf("empty optional body: %q %v", b, err)
	}
	r = httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{}`))
	r.Header.Set("Content-Type", "text/plain")
	if _, err := readBody(httptest.NewRecorder(), r, true); err == nil || err.status != http.StatusUnsupportedMediaType {
		t.Errorf("non-empty optional body as text/plain: %v", err)
	}
}

func TestSplitActionAndCursor(t *testing.T) {
	for in, want := range map[string][2]string{
		"12:approve": {"12", "approve"}, "12%3Areject": {"12", "reject"}, "a:b:delete": {"a:b", "delete"}, "12": {"", ""},
	} {
		id, action, ok := splitAction(in)
		if [2]string{id, action} != want || ok != (want[1] != "") {
			t.Errorf("splitAction(%q) = %q %q %v", in, id, action, ok)
		}
	}
	if id, ok := decodeCursor(encodeCursor(382721505726824448)); !ok || id != 382721505726824448 {
		t.Errorf("cursor round trip: %d %v", id, ok)
	}
	for _, bad := range []string{"", "!!!", encodeCursor(0), "cTE6LTE"} {
		if _, ok := decodeCursor(bad); ok {
			t.Errorf("cursor %q accepted", bad)
		}
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	for d, want := range map[int64]string{0: "1", 1: "1", 999_999_999: "1", 1_000_000_001: "2", 12_000_000_000: "12"} {
		if got := retryAfterSeconds(timeDuration(d)); got != want {
			t.Errorf("retryAfterSeconds(%dns) = %s, want %s", d, got, want)
		}
	}
}

func timeDuration(ns int64) time.Duration { return time.Duration(ns) }
