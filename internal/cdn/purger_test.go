package cdn

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/internal/stacktest"
)

// purgeLog records the tags of each PURGE it receives; the first fail
// requests answer 500.
type purgeLog struct {
	mu   sync.Mutex
	got  [][]string
	fail int
}

func (l *purgeLog) serve(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r.Method != "PURGE" {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	if l.fail > 0 {
		l.fail--
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	l.got = append(l.got, strings.Fields(r.Header.Get(PurgeHeader)))
}

func (l *purgeLog) purges() [][]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.got)
}

func TestPurgerCoalescesAndRepeats(t *testing.T) {
	var l purgeLog
	srv := httptest.NewServer(http.HandlerFunc(l.serve))
	defer srv.Close()
	p, err := NewPurger(PurgerConfig{URLs: []string{srv.URL}, Repeat: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	p.mu.Lock() // hold the drain so the burst lands in one set
	for range 100 {
		p.pending[VideoTag(1)] = true
	}
	p.mu.Unlock()
	p.Purge(VideoTag(1), CommentTag(5))
	stacktest.Eventually(t, 2*time.Second, "the purge and its repeat", func() bool { return len(l.purges()) >= 2 })
	time.Sleep(300 * time.Millisecond)
	got := l.purges()
	want := [][]string{{"c5", "v1"}, {"c5", "v1"}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("purges %q, want %q (one for the burst, one repeat)", got, want)
	}
}

// TestPurgerSettles: with Settle, a tag is purged three times, at once,
// after Settle and after Repeat, in that order.
func TestPurgerSettles(t *testing.T) {
	var l purgeLog
	srv := httptest.NewServer(http.HandlerFunc(l.serve))
	defer srv.Close()
	p, err := NewPurger(PurgerConfig{URLs: []string{srv.URL}, Settle: 50 * time.Millisecond, Repeat: 400 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	start := time.Now()
	var at []time.Duration
	p.Purge("v2")
	for n := 1; n <= 3; n++ {
		stacktest.Eventually(t, 2*time.Second, fmt.Sprintf("purge %d", n), func() bool { return len(l.purges()) >= n })
		at = append(at, time.Since(start))
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(l.purges()); n != 3 {
		t.Errorf("%d purges, want 3", n)
	}
	if at[1] < 50*time.Millisecond || at[1] > 350*time.Millisecond || at[2] < 400*time.Millisecond {
		t.Errorf("purges at %v: want the second after Settle (50ms) and well before Repeat (400ms), the third after Repeat", at)
	}
}

func TestPurgerRetriesAFailedPurge(t *testing.T) {
	l := purgeLog{fail: 2}
	srv := httptest.NewServer(http.HandlerFunc(l.serve))
	defer srv.Close()
	p, err := NewPurger(PurgerConfig{URLs: []string{srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.Purge("v9")
	stacktest.Eventually(t, 2*time.Second, "the purge after two 500s", func() bool { return len(l.purges()) == 1 })
}

func TestChangeTags(t *testing.T) {
	for _, c := range []struct {
		ch   pagecache.Change
		want []string
	}{
		{pagecache.Change{VideoID: 3, ID: 10}, []string{"v3", "c10"}},
		{pagecache.Change{VideoID: 3, ID: 11, ParentID: 10}, []string{"v3", "c11", "c10"}},
	} {
		if got := ChangeTags(c.ch); !slices.Equal(got, c.want) {
			t.Errorf("ChangeTags(%+v) = %q, want %q", c.ch, got, c.want)
		}
	}
}
