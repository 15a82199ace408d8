package pages

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/cespare/xxhash/v2"
	"github.com/golang/groupcache"

	"github.com/vidcomments/vidcomments/internal/pagecache"
)

// A cached value is the response exactly as served, behind a header, so a
// hit is written out without decoding or re-encoding anything:
//
//	byte 0       format (2)
//	byte 1       flags: 1 stale, 2 not found
//	bytes 2–36   the ETag, quoted: "<version, 16 hex>-<xxHash64 of the body, 16 hex>"
//	bytes 37–38  n, the length of the tags (big endian)
//	bytes 39–    the tags: the Surrogate-Key value (internal/cdn), n bytes
//	then         the JSON body
const (
	valueFormat  = 2
	flagStale    = 1
	flagNotFound = 2
	etagLen      = 35
	fixedLen     = 2 + etagLen + 2
	maxTags      = 1<<16 - 1
)

// Page is one response of the read path.
type Page struct {
	ETag     string // strong: the video's cache version and a hash of the body
	Stale    bool   // freshness could not be confirmed (see the package doc)
	NotFound bool   // a single comment that readers may not see

	view   groupcache.ByteView // the whole value
	raw    []byte              // or this, when groupcache is off
	bodyAt int                 // where the body starts in it

	etagHdr, lenHdr, tagHdr []string // the ETag, Content-Length and Surrogate-Key header values, made once per value
	authors                 []int64  // the users its u-tags name
}

// TagHeader is the Surrogate-Key header's value the page was built with
// (the video or comment and every author it shows); nil when it has none.
func (p *Page) TagHeader() []string { return p.tagHdr }

// ETagHeader is the ETag header's value, shared by every response of this
// value (net/http only reads header values).
func (p *Page) ETagHeader() []string {
	if p.etagHdr == nil {
		return []string{p.ETag}
	}
	return p.etagHdr
}

// LengthHeader is the Content-Length header's value, shared likewise.
func (p *Page) LengthHeader() []string {
	if p.lenHdr == nil {
		return []string{strconv.Itoa(p.Len())}
	}
	return p.lenHdr
}

// withHeaders makes the header values once.
func (p Page) withHeaders(tags string) Page {
	p.etagHdr, p.lenHdr = []string{p.ETag}, []string{strconv.Itoa(p.Len())}
	if tags != "" {
		p.tagHdr = []string{tags}
		p.authors = tagUsers(tags)
	}
	return p
}

// tagUsers returns the users of the u-tags in a Surrogate-Key value.
func tagUsers(tags string) []int64 {
	var out []int64
	for _, t := range strings.Fields(tags) {
		if rest, ok := strings.CutPrefix(t, "u"); ok {
			if n, err := strconv.ParseInt(rest, 10, 64); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// Len is the body's length in bytes.
func (p *Page) Len() int {
	if p.raw != nil {
		return len(p.raw) - p.bodyAt
	}
	return p.view.Len() - p.bodyAt
}

// endsWith reports whether the body ends with s.
func (p *Page) endsWith(s []byte) bool {
	if p.raw != nil {
		return bytes.HasSuffix(p.raw[p.bodyAt:], s)
	}
	n := p.view.Len()
	return n-p.bodyAt >= len(s) && p.view.SliceFrom(n-len(s)).EqualBytes(s)
}

// size is the bytes of the whole value the page is a view of.
func (p *Page) size() int {
	if p.raw != nil {
		return len(p.raw)
	}
	return p.view.Len()
}

// WriteTo writes the body to w without copying it.
func (p *Page) WriteTo(w io.Writer) (int64, error) {
	if p.raw != nil {
		n, err := w.Write(p.raw[p.bodyAt:])
		return int64(n), err
	}
	return p.view.SliceFrom(p.bodyAt).WriteTo(w)
}

// Body returns a copy of the body (for tests and tools).
func (p *Page) Body() []byte {
	if p.raw != nil {
		return append([]byte(nil), p.raw[p.bodyAt:]...)
	}
	return p.view.SliceFrom(p.bodyAt).ByteSlice()
}

// Version is the cache version the page was built at (0 when unknown).
func (p *Page) Version() int64 {
	if len(p.ETag) != etagLen {
		return 0
	}
	n, _ := strconv.ParseUint(p.ETag[1:17], 16, 64)
	return int64(n)
}

var errBadValue = errors.New("pages: malformed cached value")

// bodyStart checks a value's fixed header and returns where its body starts.
func bodyStart(format, n0, n1 byte, size int) (int, bool) {
	at := fixedLen + (int(n0)<<8 | int(n1))
	return at, format == valueFormat && at <= size
}

func decodeView(v groupcache.ByteView) (Page, error) {
	if v.Len() < fixedLen {
		return Page{}, errBadValue
	}
	at, ok := bodyStart(v.At(0), v.At(fixedLen-2), v.At(fixedLen-1), v.Len())
	if !ok {
		return Page{}, errBadValue
	}
	flags := v.At(1)
	return Page{ETag: v.Slice(2, 2+etagLen).String(), Stale: flags&flagStale != 0, NotFound: flags&flagNotFound != 0, view: v, bodyAt: at}.withHeaders(v.Slice(fixedLen, at).String()), nil
}

func decodeRaw(b []byte) (Page, error) {
	if len(b) < fixedLen {
		return Page{}, errBadValue
	}
	at, ok := bodyStart(b[0], b[fixedLen-2], b[fixedLen-1], len(b))
	if !ok {
		return Page{}, errBadValue
	}
	return Page{ETag: string(b[2 : 2+etagLen]), Stale: b[1]&flagStale != 0, NotFound: b[1]&flagNotFound != 0, raw: b, bodyAt: at}.withHeaders(string(b[fixedLen:at])), nil
}

// newValue starts a value with its tags (cut to what the header holds);
// append the body, then call sealValue.
func newValue(tags string, size int) []byte {
	if len(tags) > maxTags {
		tags = tags[:strings.LastIndexByte(tags[:maxTags], ' ')+1]
		tags = strings.TrimSpace(tags)
	}
	b := make([]byte, fixedLen, fixedLen+len(tags)+size)
	b[0] = valueFormat
	binary.BigEndian.PutUint16(b[fixedLen-2:], uint16(len(tags)))
	return append(b, tags...)
}

// sealValue sets the flags and the ETag of a value whose body is complete.
func sealValue(b []byte, version int64, stale, notFound bool) []byte {
	if stale {
		b[1] |= flagStale
	}
	if notFound {
		b[1] |= flagNotFound
	}
	at, _ := bodyStart(b[0], b[fixedLen-2], b[fixedLen-1], len(b))
	var sum [8]byte
	binary.BigEndian.PutUint64(sum[:], xxhash.Sum64(b[at:]))
	e := b[2 : 2+etagLen]
	e[0], e[17], e[34] = '"', '-', '"'
	v := uint64(max(version, 0))
	for i := 15; i >= 0; i-- {
		e[1+i] = "0123456789abcdef"[v&15]
		v >>= 4
	}
	hex.Encode(e[18:34], sum[:])
	return b
}

// appendPageBody appends {"comments":[…],"next_cursor":…,"total":N},
// splicing the cached comment bodies in as they are.
func appendPageBody(b []byte, entries []pagecache.Entry, next string, total int64) []byte {
	b = append(b, `{"comments":[`...)
	for i, e := range entries {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, e.Body...)
	}
	b = append(b, `],"next_cursor":`...)
	if next == "" {
		b = append(b, "null"...)
	} else {
		b = append(b, '"')
		b = append(b, next...) // base64url: nothing to escape
		b = append(b, '"')
	}
	b = append(b, `,"total":`...)
	b = strconv.AppendInt(b, total, 10)
	return append(b, '}')
}

// uncacheable carries a page that is correct for the request that built it
// but must not be cached: the video changed while it was read. groupcache
// hands a getter's error to every waiting caller without caching it.
type uncacheable struct{ value []byte }

func (u *uncacheable) Error() string {
	return "page changed while it was read: served once, not cached"
}
