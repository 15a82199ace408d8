package cursor

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	c := NewCodec([]byte("k"))
	tests := []struct {
		name string
		cur  Cursor
	}{
		{"time", Cursor{Sort: ByTime, LastID: 1}},
		{"time, large id", Cursor{Sort: ByTime, LastID: 1<<62 + 12345}},
		{"hot", Cursor{Sort: ByHot, LastID: 77, Score: 123456}},
		{"hot with epoch", Cursor{Sort: ByHot, LastID: 77, Score: 0, Epoch: 356789123}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := c.Encode(42, tt.cur)
			if len(s) > MaxLen {
				t.Errorf("cursor %q longer than MaxLen %d", s, MaxLen)
			}
			got, err := c.Decode(42, tt.cur.Sort, s)
			if err != nil || got != tt.cur {
				t.Errorf("Decode(Encode(%+v)) = %+v, %v", tt.cur, got, err)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	c := NewCodec([]byte("k"))
	good := c.Encode(42, Cursor{Sort: ByTime, LastID: 99})
	raw, _ := base64.RawURLEncoding.DecodeString(good)
	flip := func(i int) string {
		b := append([]byte(nil), raw...)
		b[i] ^= 1
		return base64.RawURLEncoding.EncodeToString(b)
	}
	tests := map[string]struct {
		video int64
		sort  Sort
		s     string
	}{
		"empty":                   {42, ByTime, ""},
		"not base64":              {42, ByTime, "!!!!"},
		"padded base64":           {42, ByTime, good + "=="},
		"truncated":               {42, ByTime, good[:len(good)-3]},
		"too long":                {42, ByTime, strings.Repeat("A", MaxLen+1)},
		"id byte flipped":         {42, ByTime, flip(5)},
		"format byte flipped":     {42, ByTime, flip(0)},
		"mac byte flipped":        {42, ByTime, flip(len(raw) - 1)},
		"another video":           {43, ByTime, good},
		"another sort":            {42, ByHot, good},
		"signed with another key": {42, ByTime, NewCodec([]byte("other")).Encode(42, Cursor{Sort: ByTime, LastID: 99})},
		"hot cursor for time":     {42, ByTime, c.Encode(42, Cursor{Sort: ByHot, LastID: 9, Score: 1})},
		"zero id":                 {42, ByTime, c.Encode(42, Cursor{Sort: ByTime, LastID: 0})},
		"negative id":             {42, ByTime, c.Encode(42, Cursor{Sort: ByTime, LastID: -5})},
		"negative likes":          {42, ByHot, c.Encode(42, Cursor{Sort: ByHot, LastID: 5, Score: -1})},
		"negative epoch":          {42, ByHot, c.Encode(42, Cursor{Sort: ByHot, LastID: 5, Epoch: -1})},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := c.Decode(tt.video, tt.sort, tt.s); !errors.Is(err, ErrInvalid) {
				t.Errorf("Decode(%q) err = %v, want ErrInvalid", tt.s, err)
			}
		})
	}
}

func TestDevKeyIsUsedWhenNoneIsGiven(t *testing.T) {
	a, b := NewCodec(nil), NewCodec(DevKey())
	s := a.Encode(1, Cursor{Sort: ByTime, LastID: 5})
	if _, err := b.Decode(1, ByTime, s); err != nil {
		t.Errorf("a cursor of the default codec is not valid under DevKey: %v", err)
	}
}

func TestParseSort(t *testing.T) {
	for in, want := range map[string]Sort{"": ByTime, "time": ByTime, "hot": ByHot} {
		if got, err := ParseSort(in); err != nil || got != want {
			t.Errorf("ParseSort(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"TIME", "new", " time"} {
		if _, err := ParseSort(bad); err == nil {
			t.Errorf("ParseSort(%q) accepted", bad)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	c := NewCodec([]byte("k"))
	s := c.Encode(42, Cursor{Sort: ByTime, LastID: 99})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Decode(42, ByTime, s); err != nil {
			b.Fatal(err)
		}
	}
}
