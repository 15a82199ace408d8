package validate

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// FuzzContent: whatever a client sends, Content either refuses it with a
// validation error or returns text that obeys every documented rule — and
// is a fixed point, so storing and re-validating never changes it.
func FuzzContent(f *testing.F) {
	for _, s := range []string{"hello", "  padded \n", "a\r\nb", "e\u0301", "\x00", "\xff", "tab\there", "\u0085", strings.Repeat("é", 1001), "<script>alert(1)</script>", "\u202e reversed"} {
		f.Add(s)
	}
	const max = 1000
	f.Fuzz(func(t *testing.T, in string) {
		out, err := Content(in, max)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %T %v is not a validation error", err, err)
			}
			return
		}
		switch n := utf8.RuneCountInString(out); {
		case !utf8.ValidString(out):
			t.Fatalf("invalid UTF-8 out of %q", in)
		case n < 1 || n > max:
			t.Fatalf("%d runes out of %q", n, in)
		case !norm.NFC.IsNormalString(out):
			t.Fatalf("not NFC: %q", out)
		case strings.TrimSpace(out) != out:
			t.Fatalf("not trimmed: %q", out)
		}
		for _, r := range out {
			if unicode.IsControl(r) && r != '\n' {
				t.Fatalf("control character %U in %q", r, out)
			}
		}
		if again, err := Content(out, max); err != nil || again != out {
			t.Fatalf("not a fixed point: %q → %q (%v)", out, again, err)
		}
	})
}

// FuzzJSONString: a JSON string token is refused, or decodes to valid
// UTF-8 exactly as encoding/json reads it.
func FuzzJSONString(f *testing.F) {
	for _, s := range []string{`"a"`, `"\ud800"`, `"\ud83d\ude00"`, `"\udc00\ud800"`, `null`, `1`, `"\u0000"`, `"unterminated`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, ok, err := JSONString(raw)
		if !ok || err != nil {
			return
		}
		if !utf8.ValidString(s) {
			t.Fatalf("invalid UTF-8 from %q", raw)
		}
		var want string
		if json.Unmarshal(raw, &want) != nil || want != s {
			t.Fatalf("JSONString(%q) = %q, encoding/json says %q", raw, s, want)
		}
	})
}
