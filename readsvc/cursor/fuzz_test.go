package cursor

import (
	"errors"
	"testing"
)

// FuzzDecode: any text a client sends as a cursor is either refused with
// ErrInvalid (a 400) or is exactly a cursor this codec made for that video
// and order — decoding and re-encoding gives the same text back.
func FuzzDecode(f *testing.F) {
	c := NewCodec([]byte("fuzz-key"))
	f.Add(int64(7), c.Encode(7, Cursor{Sort: ByTime, LastID: 123456789}))
	f.Add(int64(7), c.Encode(7, Cursor{Sort: ByHot, LastID: 5, Score: 99}))
	f.Add(int64(7), c.Encode(7, Cursor{Sort: ByHot, LastID: 5, Score: 99, Epoch: 356789123}))
	f.Add(int64(7), c.Encode(7, Cursor{Sort: ByHot, LastID: 1, Score: -1, Epoch: -5}))
	f.Add(int64(8), c.Encode(7, Cursor{Sort: ByTime, LastID: 1}))
	for _, s := range []string{"", "x", "AAAA", "////", "dA", "%00", "dAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
		f.Add(int64(1), s)
	}
	f.Fuzz(func(t *testing.T, video int64, s string) {
		for _, sort := range []Sort{ByTime, ByHot} {
			cur, err := c.Decode(video, sort, s)
			if err != nil {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("error %v is not ErrInvalid", err)
				}
				continue
			}
			if cur.Sort != sort || cur.LastID <= 0 {
				t.Fatalf("accepted %+v for sort %c", cur, sort)
			}
			if again := c.Encode(video, cur); again != s {
				t.Fatalf("accepted a non-canonical cursor %q (canonical %q)", s, again)
			}
		}
	})
}
