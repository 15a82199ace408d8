package pages

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"strconv"

	"github.com/cespare/xxhash/v2"
	"github.com/golang/groupcache"

	"github.com/vidcomments/vidcomments/internal/pagecache"
)

// A cached value is the response exactly as served, behind a fixed header,
// so a hit is written out without decoding or re-encoding anything:
//
//	byte 0       format (1)
//	byte 1       flags: 1 stale, 2 not found
//	bytes 2–36   the ETag, quoted: "<version, 16 hex>-<xxHash64 of the body, 16 hex>"
//	bytes 37–    the JSON body
const (
	valueFormat  = 1
	flagStale    = 1
	flagNotFound = 2
	etagLen      = 35
	headerLen    = 2 + etagLen
)

// Page is one response of the read path.
type Page struct {
	ETag     string // strong: the video's cache version and a hash of the body
	Stale    bool   // freshness could not be confirmed (see the package doc)
	NotFound bool   // a single comment that readers may not see

	view groupcache.ByteView // the whole value; the body starts at headerLen
	raw  []byte              // or this, when groupcache is off

	etagHdr, lenHdr []string // the ETag and Content-Length header values, made once per value
}

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
func (p Page) withHeaders() Page {
	p.etagHdr, p.lenHdr = []string{p.ETag}, []string{strconv.Itoa(p.Len())}
	return p
}

// Len is the body's length in bytes.
func (p *Page) Len() int {
	if p.raw != nil {
		return len(p.raw) - headerLen
	}
	return p.view.Len() - headerLen
}

// WriteTo writes the body to w without copying it.
func (p *Page) WriteTo(w io.Writer) (int64, error) {
	if p.raw != nil {
		n, err := w.Write(p.raw[headerLen:])
		return int64(n), err
	}
	return p.view.SliceFrom(headerLen).WriteTo(w)
}

// Body returns a copy of the body (for tests and tools).
func (p *Page) Body() []byte {
	if p.raw != nil {
		return append([]byte(nil), p.raw[headerLen:]...)
	}
	return p.view.SliceFrom(headerLen).ByteSlice()
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

func decodeView(v groupcache.ByteView) (Page, error) {
	if v.Len() < headerLen || v.At(0) != valueFormat {
		return Page{}, errBadValue
	}
	flags := v.At(1)
	return Page{ETag: v.Slice(2, headerLen).String(), Stale: flags&flagStale != 0, NotFound: flags&flagNotFound != 0, view: v}.withHeaders(), nil
}

func decodeRaw(b []byte) (Page, error) {
	if len(b) < headerLen || b[0] != valueFormat {
		return Page{}, errBadValue
	}
	return Page{ETag: string(b[2:headerLen]), Stale: b[1]&flagStale != 0, NotFound: b[1]&flagNotFound != 0, raw: b}.withHeaders(), nil
}

// newValue starts a value; append the body, then call sealValue.
func newValue(size int) []byte {
	b := make([]byte, headerLen, headerLen+size)
	b[0] = valueFormat
	return b
}

// sealValue sets the flags and the ETag of a value whose body is complete.
func sealValue(b []byte, version int64, stale, notFound bool) []byte {
	if stale {
		b[1] |= flagStale
	}
	if notFound {
		b[1] |= flagNotFound
	}
	var sum [8]byte
	binary.BigEndian.PutUint64(sum[:], xxhash.Sum64(b[headerLen:]))
	e := b[2:headerLen]
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
