package pagecache

import (
	"reflect"
	"testing"
)

func TestMerge(t *testing.T) {
	rows := []Stored{{ID: 50, Version: 5}, {ID: 40, Version: 4}, {ID: 30, Version: 3}}
	tests := []struct {
		name    string
		overlay map[int64]OverlayEntry
		window  int
		readAll bool
		want    []int64
	}{
		{"no overlay", nil, 10, false, []int64{50, 40, 30}},
		{"rejected but Cassandra lags: removed", map[int64]OverlayEntry{40: {Version: 9, Visible: false}}, 10, false, []int64{50, 30}},
		{"approved, not in Cassandra yet: added", map[int64]OverlayEntry{60: {Version: 9, Visible: true}}, 10, false, []int64{60, 50, 40, 30}},
		{"overlay older than Cassandra: Cassandra wins", map[int64]OverlayEntry{40: {Version: 2, Visible: false}}, 10, false, []int64{50, 40, 30}},
		{"addition older than the rows read: beyond the window", map[int64]OverlayEntry{10: {Version: 9, Visible: true}}, 10, false, []int64{50, 40, 30}},
		{"addition older than the rows, but they are all: kept", map[int64]OverlayEntry{10: {Version: 9, Visible: true}}, 10, true, []int64{50, 40, 30, 10}},
		{"cut to the window", map[int64]OverlayEntry{60: {Version: 9, Visible: true}}, 2, false, []int64{60, 50}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []int64
			for _, e := range Merge(rows, tt.overlay, tt.window, tt.readAll) {
				got = append(got, e.ID)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Merge = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseInval(t *testing.T) {
	if v, ver, err := ParseInval("7 123"); err != nil || v != 7 || ver != 123 {
		t.Errorf("ParseInval = %d %d %v", v, ver, err)
	}
	for _, bad := range []string{"", "7", "x 1", "7 y"} {
		if _, _, err := ParseInval(bad); err == nil {
			t.Errorf("ParseInval(%q) accepted", bad)
		}
	}
}

func TestVideoOfKey(t *testing.T) {
	tests := []struct {
		key  string
		want int64
		ok   bool
	}{
		{"vc:{42}:meta", 42, true},
		{"vc:{1795314595494454591}:ver", 1795314595494454591, true},
		{"vc:{42}:s:7", 42, true},
		{"vc:{x}:meta", 0, false},
		{"vc:{42:meta", 0, false},
		{"other:{42}:meta", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			got, ok := videoOfKey(tt.key)
			if got != tt.want || ok != tt.ok {
				t.Errorf("videoOfKey(%q) = %d, %v; want %d, %v", tt.key, got, ok, tt.want, tt.ok)
			}
		})
	}
}
