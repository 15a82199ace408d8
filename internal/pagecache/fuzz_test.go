package pagecache

import (
	"regexp"
	"strconv"
	"testing"
)

// FuzzParseInval: an inval message is whatever anyone with access to
// Redis publishes on vc:inval. ParseInval refuses it or returns the two
// numbers it spells, and a message made of them parses back the same.
func FuzzParseInval(f *testing.F) {
	for _, s := range []string{"1 2", "42 1700000000000000", "1", " ", "1 2 3", "-1 5", "+1 +2", "9223372036854775808 1", "1\t2", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, payload string) {
		video, ver, err := ParseInval(payload)
		if err != nil {
			return
		}
		again := strconv.FormatInt(video, 10) + " " + strconv.FormatInt(ver, 10)
		if v2, ver2, err := ParseInval(again); err != nil || v2 != video || ver2 != ver {
			t.Fatalf("%q → (%d, %d) → %q → (%d, %d, %v)", payload, video, ver, again, v2, ver2, err)
		}
	})
}

// overlayLua is the pattern the Lua scripts read an overlay value with
// (fillsince in scripts.go): the Go reader must accept exactly those
// values, or readsvc's direct path (Merge) and the fill script would
// disagree about a video's overlay.
var overlayLua = regexp.MustCompile(`(?s)^([0-9]+)\|([01])\|(.*)$`)

// FuzzParseOverlay: parseOverlay accepts what the Lua scripts accept (and
// what fits an int64), keeps the body byte for byte, and reads back what
// Record writes.
func FuzzParseOverlay(f *testing.F) {
	for _, s := range []string{"12|1|{\"id\":\"1\"}", "12|0|", "12|2|x", "|1|x", "12|1", "-5|1|x", "+5|0|", "99999999999999999999|1|", "7|1|a|b|c", "7|1|\n\x00<script>"} {
		f.Add(s, int64(3), true, []byte("{}"))
	}
	f.Fuzz(func(t *testing.T, v string, ver int64, vis bool, body []byte) {
		e, err := parseOverlay(v)
		m := overlayLua.FindStringSubmatch(v)
		switch {
		case err == nil && m == nil:
			t.Fatalf("parseOverlay(%q) = %+v, but the Lua scripts refuse it", v, e)
		case err == nil:
			if strconv.FormatInt(e.Version, 10) != trimZeros(m[1]) || e.Visible != (m[2] == "1") || string(e.Body) != m[3] {
				t.Fatalf("parseOverlay(%q) = %+v", v, e)
			}
		case m != nil:
			if _, perr := strconv.ParseUint(m[1], 10, 63); perr == nil {
				t.Fatalf("parseOverlay(%q) refused a value the Lua scripts accept: %v", v, err)
			}
		}
		if ver < 0 {
			return
		}
		flag := "0"
		if vis {
			flag = "1"
		}
		written := strconv.FormatInt(ver, 10) + "|" + flag + "|" + string(body)
		got, err := parseOverlay(written)
		if err != nil || got.Version != ver || got.Visible != vis || string(got.Body) != string(body) {
			t.Fatalf("parseOverlay(%q) = %+v, %v", written, got, err)
		}
	})
}

func trimZeros(s string) string {
	for len(s) > 1 && s[0] == '0' {
		s = s[1:]
	}
	return s
}
