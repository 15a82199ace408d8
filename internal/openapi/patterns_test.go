package openapi

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/readsvc/pages"
	writeapi "github.com/vidcomments/vidcomments/writesvc/api"
	"github.com/vidcomments/vidcomments/writesvc/validate"
	"github.com/vidcomments/vidcomments/writesvc/webhook"
)

// stringSchema is the part of a string schema the pattern tests read.
type stringSchema struct {
	Pattern   string `yaml:"pattern"`
	MinLength *int   `yaml:"minLength"`
	MaxLength *int   `yaml:"maxLength"`
	Maximum   *int64 `yaml:"maximum"`
	MinItems  *int   `yaml:"minItems"`
	MaxItems  *int   `yaml:"maxItems"`
}

// accepts reports whether s is valid under the schema: its pattern (an
// ECMA-262 regular expression, \uXXXX escapes turned into RE2's \x{XXXX})
// and its lengths in code points, as a JSON Schema validator counts them.
func (s stringSchema) accepts(t *testing.T, v string) bool {
	t.Helper()
	n := utf8.RuneCountInString(v)
	if s.MinLength != nil && n < *s.MinLength || s.MaxLength != nil && n > *s.MaxLength {
		return false
	}
	if s.Pattern == "" {
		return true
	}
	return compiled(t, s.Pattern).MatchString(v)
}

var (
	ecmaU = regexp.MustCompile(`\\u([0-9A-Fa-f]{4})`)
	regex = map[string]*regexp.Regexp{}
)

func compiled(t *testing.T, pattern string) *regexp.Regexp {
	t.Helper()
	if re, ok := regex[pattern]; ok {
		return re
	}
	re, err := regexp.Compile(ecmaU.ReplaceAllString(pattern, `\x{$1}`))
	if err != nil {
		t.Fatalf("pattern %q: %v", pattern, err)
	}
	regex[pattern] = re
	return re
}

// schemaAt decodes the node at a path of mapping keys under the document.
func schemaAt(t *testing.T, keys ...string) stringSchema {
	t.Helper()
	var n yaml.Node
	decodeSpec(t, &n)
	cur := n.Content[0]
	for _, k := range keys {
		next := (*yaml.Node)(nil)
		switch cur.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(cur.Content); i += 2 {
				if cur.Content[i].Value == k {
					next = cur.Content[i+1]
				}
			}
		case yaml.SequenceNode:
			i, err := strconv.Atoi(k)
			if err == nil && i < len(cur.Content) {
				next = cur.Content[i]
			}
		}
		if next == nil {
			t.Fatalf("docs/openapi.yaml has no %s", strings.Join(keys, "."))
		}
		cur = next
	}
	var s stringSchema
	if err := cur.Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func schema(t *testing.T, name string) stringSchema {
	return schemaAt(t, "components", "schemas", name)
}

// runes yields one-rune strings: every rune of the Basic Multilingual Plane
// and a sample of the others (never a surrogate: not UTF-8).
func runes(yield func(string) bool) {
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if r >= 0xD800 && r <= 0xDFFF || r > 0xFFFF && r%61 != 0 {
			continue
		}
		if !yield(string(r)) {
			return
		}
	}
}

// The ID pattern accepts exactly what comment.ParseID accepts: a JSON
// Schema validator and the handlers agree on every id.
func TestIDPatternIsParseID(t *testing.T) {
	id := schema(t, "ID")
	cases := []string{"", "0", "1", "9", "10", "01", "+1", "-1", " 1", "1 ", "1.0", "1e3", "٣", "１",
		"999999999999999999", "1000000000000000000", "9223372036854775807", "9223372036854775808",
		"9223372036854775799", "9223372036854775810", "9300000000000000000", "9999999999999999999", "10000000000000000000"}
	for i := int64(1); i > 0 && i < 1<<62; i = i*3 + 7 {
		cases = append(cases, strconv.FormatInt(i, 10), strconv.FormatInt(1<<63-1-i, 10))
	}
	for _, d := range "0123456789" {
		cases = append(cases, "922337203685477580"+string(d), "92233720368547758"+string(d)+"7")
	}
	for _, s := range cases {
		_, err := comment.ParseID(s)
		if got := id.accepts(t, s); got != (err == nil) {
			t.Errorf("ID %q: pattern says %v, ParseID says %v", s, got, err)
		}
	}
}

// Content's pattern and lengths accept exactly what validate.Content
// accepts with the default limit, for every one-rune text, for texts at
// and over the limit, and for the tricky ones (CRLF, trimming, NFC).
func TestContentSchemaIsValidateContent(t *testing.T) {
	c := schema(t, "Content")
	limit := defaultMaxCommentRunes(t)
	if c.MaxLength == nil || *c.MaxLength != limit || c.MinLength == nil || *c.MinLength != 1 {
		t.Fatalf("Content lengths %v..%v, want 1..%d (writesvc's -max-comment-runes default)", c.MinLength, c.MaxLength, limit)
	}
	check := func(s string) {
		_, err := validate.Content(s, limit)
		if got := c.accepts(t, s); got != (err == nil) {
			t.Errorf("content %q: schema says %v, validate.Content says %v", s, got, err)
		}
	}
	for s := range runes {
		check(s)
		check("a" + s + "b")
	}
	x := strings.Repeat
	for _, s := range []string{"", " ", "\n", "\r\n", "a\r\nb", "a\rb", "a\n\nb", "\u3000", "\u200b", "\ufeff", " x ", "\u00a0x",
		"e\u0301", x("x", limit), x("x", limit+1), " " + x("x", limit), x("x", limit-1) + "\n", x("e\u0301", limit/2), x("e\u0301", limit/2+1), x("a\r\n", limit/3)} {
		check(s)
	}
}

// Reason and RequiredReason accept exactly what validate.Reason accepts,
// RequiredReason only what is not empty once trimmed (a reject's).
func TestReasonSchemasAreValidateReason(t *testing.T) {
	opt, req := schema(t, "Reason"), schema(t, "RequiredReason")
	for _, s := range []stringSchema{opt, req} {
		if s.MaxLength == nil || *s.MaxLength != validate.MaxReasonRunes {
			t.Fatalf("reason maxLength %v, want %d", s.MaxLength, validate.MaxReasonRunes)
		}
	}
	check := func(s string) {
		out, err := validate.Reason(s)
		if got := opt.accepts(t, s); got != (err == nil) {
			t.Errorf("reason %q: Reason says %v, validate.Reason says %v", s, got, err)
		}
		if got := req.accepts(t, s); got != (err == nil && out != "") {
			t.Errorf("reason %q: RequiredReason says %v, validate.Reason says %q, %v", s, got, out, err)
		}
	}
	for s := range runes {
		check(s)
		check(" " + s + " ")
	}
	r := strings.Repeat("r", validate.MaxReasonRunes)
	for _, s := range []string{"", "  ", "spam", "a\nb", r, r + "r", " " + r, "\u2028", "x\u2028"} {
		check(s)
	}
}

// The Idempotency-Key header's schema is validate.IdempotencyKey.
func TestIdempotencyKeySchema(t *testing.T) {
	k := schemaAt(t, "paths", "/v1/videos/{video_id}/comments", "post", "parameters", "0", "schema")
	if k.MaxLength == nil || *k.MaxLength != validate.MaxIdempotencyKey {
		t.Fatalf("Idempotency-Key maxLength %v, want %d", k.MaxLength, validate.MaxIdempotencyKey)
	}
	check := func(s string) {
		if got, err := k.accepts(t, s), validate.IdempotencyKey(s); got != (err == nil) {
			t.Errorf("key %q: schema says %v, validate says %v", s, got, err)
		}
	}
	for b := 0; b < 256; b++ {
		check(string(rune(b)))
		check("k" + string(rune(b)))
	}
	check("")
	check(strings.Repeat("k", validate.MaxIdempotencyKey))
	check(strings.Repeat("k", validate.MaxIdempotencyKey+1))
}

// The numeric bounds in the document are the handlers' constants.
func TestDocumentedBoundsAreTheHandlers(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  *int64
		want int64
	}{
		{"page limit", asInt64(schemaAt(t, "components", "parameters", "PageLimit", "schema").Maximum), pages.MaxLimit},
		{"queue limit", asInt64(schemaAt(t, "components", "parameters", "QueueLimit", "schema").Maximum), writeapi.MaxQueueLimit},
		{"batch ids", asIntPtr(schema(t, "BatchIDs").MaxItems), writeapi.MaxBatchIDs},
		{"ban seconds", schemaAt(t, "paths", "/v1/mod/users/{id}:ban", "post", "requestBody", "content", "application/json", "schema", "properties", "duration_seconds").Maximum, writeapi.MaxBanSeconds},
	} {
		if tc.got == nil || *tc.got != tc.want {
			t.Errorf("%s: documented %v, handlers %d", tc.name, tc.got, tc.want)
		}
	}
}

func asInt64(p *int64) *int64 { return p }

func asIntPtr(p *int) *int64 {
	if p == nil {
		return nil
	}
	v := int64(*p)
	return &v
}

// defaultMaxCommentRunes reads writesvc's default (package main, so not
// importable) from its source.
func defaultMaxCommentRunes(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "writesvc", "config.go"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`DefaultMaxCommentRunes\s*=\s*(\d+)`).FindSubmatch(b)
	if m == nil {
		t.Fatal("writesvc/config.go has no DefaultMaxCommentRunes")
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// The documented webhook URL is exactly what webhook.Check accepts: every
// string the schema admits registers (schemathesis's positive data) and
// every other is refused (its negative data).
func TestWebhookURLSchemaIsCheck(t *testing.T) {
	s := schemaAt(t, "components", "schemas", "NewWebhook", "properties", "url")
	for _, c := range []struct {
		url  string
		both bool // accepted by the pattern and by Check
	}{
		{"https://hooks.example.com/vidcomments", true},
		{"http://127.0.0.1:9/x", true},
		{"http://a", true},
		{"http://-.-:99999/~_./-", true},
		{"http://a/" + strings.Repeat("x", 990), true},
		{"http://a/" + strings.Repeat("x", 1000), false},
		{"https://hooks.example.com/in?token=a%20b&x=1", true},
		{"https://Q0/l6frt*", false},
		{"http://a/#frag", false},
		{"ftp://example.com/", false},
		{"https://user:pw@example.com/", false},
		{"http://", false},
		{"/relative", false},
		{"http://a/%zz", false},
	} {
		inSchema := s.accepts(t, c.url)
		checked := webhook.Check(c.url, webhook.Events) == nil
		if inSchema != c.both || checked != inSchema {
			t.Errorf("%.60q: pattern %v, Check %v; want both %v", c.url, inSchema, checked, c.both)
		}
	}
}
