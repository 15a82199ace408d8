// Package cursor is readsvc's opaque, tamper-evident page cursor: the
// position after the last comment of a page, signed with an HMAC bound to
// the video, so a client can hand it back but cannot forge or move it.
//
// Layout before base64url (no padding):
//
//	byte 0      format (1)
//	byte 1      sort order ('t' time, 'h' hot)
//	bytes 2–9   last id served, big-endian
//	bytes 10–17 its score (sort=hot only: its like count), big-endian
//	bytes 18–25 the hot snapshot epoch page one pinned (sort=hot only)
//	last 16     HMAC-SHA256(key, "vc-cursor" | video id | the bytes above), truncated
//
// Every instance of readsvc must share the key; changing it turns
// outstanding cursors into 400 bad_cursor, and clients start again from the
// first page.
package cursor

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"sync"
)

// strictBase64 refuses non-zero unused trailing bits, so one cursor has one
// text (found by fuzzing).
var strictBase64 = base64.RawURLEncoding.Strict()

// Sort is a page order.
type Sort byte

// The page orders.
const (
	ByTime Sort = 't'
	ByHot  Sort = 'h'
)

// ParseSort parses the sort query parameter ("" is time).
func ParseSort(s string) (Sort, error) {
	switch s {
	case "", "time":
		return ByTime, nil
	case "hot":
		return ByHot, nil
	}
	return 0, fmt.Errorf("sort %q: want time or hot", s)
}

// String names the order as the API does.
func (s Sort) String() string {
	switch s {
	case ByTime:
		return "time"
	case ByHot:
		return "hot"
	}
	return fmt.Sprintf("sort(%d)", byte(s))
}

// Cursor is a position in a video's comments: the next page starts after
// LastID (and, for ByHot, after (Score, LastID) in the order of Epoch's
// snapshot).
type Cursor struct {
	Sort   Sort
	LastID int64
	Score  int64 // ByHot only: the like count of LastID
	Epoch  int64 // ByHot only: the snapshot epoch page one pinned
}

const (
	format   = 1
	macLen   = 16
	timeLen  = 2 + 8
	hotLen   = timeLen + 16
	macLabel = "vc-cursor"
	// MaxLen bounds the text of a cursor; longer input is rejected before
	// it is decoded.
	MaxLen = (hotLen + macLen + 2) * 4 / 3
)

// ErrInvalid means a cursor is garbled, truncated, forged or belongs to
// another video or order.
var ErrInvalid = errors.New("invalid cursor")

// DevKey is the key used when none is configured: fine for a laptop, not
// for production, where anyone who reads this source could forge cursors.
func DevKey() []byte {
	k := sha256.Sum256([]byte("vidcomments development cursor key v1"))
	return k[:]
}

// Codec signs and checks cursors with one key. Safe for concurrent use.
type Codec struct {
	macs sync.Pool
}

// NewCodec returns a Codec keyed with key (DevKey when empty).
func NewCodec(key []byte) *Codec {
	if len(key) == 0 {
		key = DevKey()
	}
	key = append([]byte(nil), key...)
	return &Codec{macs: sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}}
}

func (c *Codec) sign(dst []byte, video int64, payload []byte) []byte {
	m := c.macs.Get().(hash.Hash)
	defer c.macs.Put(m)
	m.Reset()
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], uint64(video))
	m.Write([]byte(macLabel))
	m.Write(v[:])
	m.Write(payload)
	var sum [sha256.Size]byte
	return append(dst, m.Sum(sum[:0])[:macLen]...)
}

// Encode returns the text of cur for video.
func (c *Codec) Encode(video int64, cur Cursor) string {
	b := make([]byte, 0, hotLen+macLen)
	b = append(b, format, byte(cur.Sort))
	b = binary.BigEndian.AppendUint64(b, uint64(cur.LastID))
	if cur.Sort == ByHot {
		b = binary.BigEndian.AppendUint64(b, uint64(cur.Score))
		b = binary.BigEndian.AppendUint64(b, uint64(cur.Epoch))
	}
	b = c.sign(b, video, b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Decode checks and parses s, a cursor handed out for video and order
// want. Every failure is ErrInvalid.
func (c *Codec) Decode(video int64, want Sort, s string) (Cursor, error) {
	if len(s) == 0 || len(s) > MaxLen {
		return Cursor{}, fmt.Errorf("%w: length %d", ErrInvalid, len(s))
	}
	// encoding/base64 skips CR and LF; a cursor is exactly the alphabet, so
	// every accepted cursor is the one text this codec made (found by fuzzing).
	for i := 0; i < len(s); i++ {
		if b := s[i]; !('A' <= b && b <= 'Z' || 'a' <= b && b <= 'z' || '0' <= b && b <= '9' || b == '-' || b == '_') {
			return Cursor{}, fmt.Errorf("%w: not base64url", ErrInvalid)
		}
	}
	var buf [hotLen + macLen + 3]byte
	n, err := strictBase64.Decode(buf[:], []byte(s))
	if err != nil {
		return Cursor{}, fmt.Errorf("%w: not base64url", ErrInvalid)
	}
	b := buf[:n]
	if n < timeLen+macLen {
		return Cursor{}, fmt.Errorf("%w: too short", ErrInvalid)
	}
	payload, mac := b[:n-macLen], b[n-macLen:]
	var sum [macLen]byte
	if !hmac.Equal(c.sign(sum[:0], video, payload), mac) {
		return Cursor{}, fmt.Errorf("%w: signature does not match", ErrInvalid)
	}
	cur := Cursor{Sort: Sort(payload[1]), LastID: int64(binary.BigEndian.Uint64(payload[2:10]))}
	switch {
	case payload[0] != format:
		return Cursor{}, fmt.Errorf("%w: format %d", ErrInvalid, payload[0])
	case cur.Sort != want:
		return Cursor{}, fmt.Errorf("%w: made for sort=%s, not %s", ErrInvalid, cur.Sort, want)
	case cur.Sort == ByTime && len(payload) != timeLen, cur.Sort == ByHot && len(payload) != hotLen:
		return Cursor{}, fmt.Errorf("%w: length", ErrInvalid)
	case cur.LastID <= 0:
		return Cursor{}, fmt.Errorf("%w: id %d", ErrInvalid, cur.LastID)
	}
	if cur.Sort == ByHot {
		cur.Score = int64(binary.BigEndian.Uint64(payload[10:18]))
		cur.Epoch = int64(binary.BigEndian.Uint64(payload[18:26]))
		if cur.Score < 0 || cur.Epoch < 0 {
			return Cursor{}, fmt.Errorf("%w: negative score or epoch", ErrInvalid)
		}
	}
	return cur, nil
}
