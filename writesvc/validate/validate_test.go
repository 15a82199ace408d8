package validate

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if err != nil {
		return "other: " + err.Error()
	}
	return ""
}

func TestContent(t *testing.T) {
	tests := []struct {
		name, in, want, code string
	}{
		{"plain", "hello", "hello", ""},
		{"trimmed", " \n\t hi \u3000\n", "", CodeContentInvalidChar}, // the tab is a control character
		{"trimmed spaces and newlines", " \n hi \u3000\n", "hi", ""},
		{"inner newline kept", "a\nb", "a\nb", ""},
		{"crlf becomes lf", "a\r\nb", "a\nb", ""},
		{"lone cr", "a\rb", "", CodeContentInvalidChar},
		{"tab", "a\tb", "", CodeContentInvalidChar},
		{"nul", "a\x00b", "", CodeContentInvalidChar},
		{"escape", "a\x1b[31mb", "", CodeContentInvalidChar},
		{"del", "a\x7fb", "", CodeContentInvalidChar},
		{"c1 control", "a\u0085b", "", CodeContentInvalidChar},
		{"nfd to nfc", "e\u0301", "\u00e9", ""},
		{"empty", "", "", CodeContentEmpty},
		{"only white space", " \n \u2003 ", "", CodeContentEmpty},
		{"invalid utf-8", "a\xffb", "", CodeInvalidUTF8},
		{"exactly max", strings.Repeat("é", 10), strings.Repeat("é", 10), ""},
		{"nfc shortens within the limit", strings.Repeat("e\u0301", 5), strings.Repeat("é", 5), ""},
		{"max counted as sent, before nfc", strings.Repeat("e\u0301", 10), "", CodeContentTooLong},
		{"max counted as sent, before trimming", " " + strings.Repeat("x", 10), "", CodeContentTooLong},
		{"max counted as sent, crlf is two", strings.Repeat("a\r\n", 3) + "bc", "", CodeContentTooLong},
		{"max counted after nfc too", strings.Repeat("\u0344", 6), "", CodeContentTooLong}, // NFC: U+0308 U+0301 each
		{"one over max", strings.Repeat("x", 11), "", CodeContentTooLong},
		{"emoji count as one rune each", "👍👍", "👍👍", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Content(tt.in, 10)
			if c := code(err); c != tt.code {
				t.Fatalf("code %q, want %q (%v)", c, tt.code, err)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReason(t *testing.T) {
	tests := []struct {
		name, in, want, code string
	}{
		{"plain", " spam ", "spam", ""},
		{"empty is allowed", "  ", "", ""},
		{"newline refused", "a\nb", "", CodeInvalidReason},
		{"too long", strings.Repeat("r", MaxReasonRunes+1), "", CodeInvalidReason},
		{"max", strings.Repeat("r", MaxReasonRunes), strings.Repeat("r", MaxReasonRunes), ""},
		{"max counted as sent", " " + strings.Repeat("r", MaxReasonRunes), "", CodeInvalidReason},
		{"invalid utf-8", "\xc3", "", CodeInvalidUTF8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Reason(tt.in)
			if c := code(err); c != tt.code || got != tt.want {
				t.Errorf("Reason(%q) = %q, %q; want %q, %q", tt.in, got, c, tt.want, tt.code)
			}
		})
	}
}

func TestIdempotencyKey(t *testing.T) {
	for k, ok := range map[string]bool{
		"a": true, "3f1c-9a2e_KEY.1~": true, strings.Repeat("k", 128): true,
		"": false, strings.Repeat("k", 129): false, "has space": false, "tab\t": false, "é": false, "\x7f": false,
	} {
		if err := IdempotencyKey(k); (err == nil) != ok {
			t.Errorf("IdempotencyKey(%q) = %v, want ok=%v", k, err, ok)
		}
	}
}

func TestJSONString(t *testing.T) {
	tests := []struct {
		raw    string
		want   string
		isStr  bool
		errHas string
	}{
		{`"plain"`, "plain", true, ""},
		{`"pair \ud83d\udc4d"`, "pair 👍", true, ""},
		{`"escaped backslash then u \\ud800"`, `escaped backslash then u \ud800`, true, ""},
		{`"lone high \ud800"`, "", true, "high surrogate"},
		{`"high then letter \ud800x"`, "", true, "high surrogate"},
		{`"high then high \ud800\ud800"`, "", true, "high surrogate"},
		{`"lone low \udc00"`, "", true, "low surrogate"},
		{`"reversed \udc00\ud800"`, "", true, "low surrogate"},
		{`"upper-case hex \uD83D\uDC4D"`, "upper-case hex 👍", true, ""},
		{`null`, "", false, ""},
		{`12`, "", false, ""},
		{`{"a":1}`, "", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got, isStr, err := JSONString(json.RawMessage(tt.raw))
			if isStr != tt.isStr {
				t.Fatalf("isString = %v", isStr)
			}
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) || code(err) != CodeInvalidUTF8 {
					t.Fatalf("err = %v, want %s (%s)", err, CodeInvalidUTF8, tt.errHas)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
