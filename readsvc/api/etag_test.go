package api

import "testing"

func TestETagMatches(t *testing.T) {
	const e = `"00000000000000ff-0123456789abcdef"`
	tests := []struct {
		header []string
		want   bool
	}{
		{[]string{e}, true},
		{[]string{"W/" + e}, true},
		{[]string{`"a", ` + e}, true},
		{[]string{`"a"`, e}, true},
		{[]string{"*"}, true},
		{[]string{`"a"`}, false},
		{[]string{e[1 : len(e)-1]}, false}, // unquoted
		{[]string{""}, false},
	}
	for _, tt := range tests {
		if got := etagMatches(tt.header, e); got != tt.want {
			t.Errorf("etagMatches(%q) = %v, want %v", tt.header, got, tt.want)
		}
	}
}
