package pages

import (
	"strconv"
	"strings"
	"testing"
)

// FuzzParseKey: groupcache keys arrive from peers over HTTP, so parseKey
// reads outside input. It refuses a key or returns exactly want numbers
// ("u" standing for -1), and the key those numbers spell parses back the
// same; loadPage's range check does the rest.
func FuzzParseKey(f *testing.F) {
	for _, s := range []string{"p/5/0/20/3/100", "p/5/u/20/3/100", "c/12/7", "p/5/0/20/3", "p//0/20/3/1", "p/-5/0/99999/3/1", "p/+5/0/1/1/1", "", "/", "p/9223372036854775808/0/1/1/1"} {
		f.Add(s, uint8(5))
	}
	f.Fuzz(func(t *testing.T, key string, want uint8) {
		n := int(want%6) + 1
		got, err := parseKey(key, n)
		if err != nil {
			return
		}
		if len(got) != n {
			t.Fatalf("parseKey(%q, %d) = %v", key, n, got)
		}
		parts := []string{"x"}
		for _, v := range got {
			parts = append(parts, strconv.FormatInt(v, 10))
		}
		again, err := parseKey(strings.Join(parts, "/"), n)
		if err != nil || len(again) != n {
			t.Fatalf("%q → %v → %v, %v", key, got, again, err)
		}
		for i := range again {
			if again[i] != got[i] {
				t.Fatalf("%q → %v → %v", key, got, again)
			}
		}
	})
}
