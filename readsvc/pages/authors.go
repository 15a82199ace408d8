package pages

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vidcomments/vidcomments/internal/cdn"
	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/internal/profiles"
)

// ProfileCache is the Redis copy of author profiles (*profiles.Cache).
type ProfileCache interface {
	Get(ctx context.Context, users []int64) (map[int64]profiles.Profile, error)
	Fill(ctx context.Context, ps map[int64]profiles.Profile) error
}

// ProfileStore reads profiles from MySQL, all asked users in one query.
type ProfileStore interface {
	Load(ctx context.Context, users []int64) (map[int64]profiles.Profile, error)
}

// Profiles are where a page's authors come from; a zero Profiles (no
// Store) leaves them out of pages.
type Profiles struct {
	Cache ProfileCache
	Store ProfileStore
	Probe func(context.Context) error // closes the MySQL breaker when nil error
}

// Defaults of the author lookup.
const (
	DefaultProfileTimeout = 250 * time.Millisecond // one tier's round trip, MySQL's included
	maxChanged            = 16384                  // announced users remembered (pruned of the old when full)
	localProfileTTL       = time.Minute            // in-process, in case an inval message was lost
)

// authors gathers the profiles of a page's authors when the page is built:
// in process, then Redis, then MySQL, each tier asked once per page for
// everything the tiers above it did not have. The in-process copies drop a
// user when cdc announces a change (profiles.InvalPrefix) and all of them
// when the inval subscription is re-made. A page is built at most once per
// epoch (MaxAge), so a rename shows on every page within an epoch of cdc's
// announcement.
type authors struct {
	src     Profiles
	redisBr *breaker // the read path's: Redis down, the copies there are skipped
	mysqlBr *breaker
	timeout time.Duration
	max     int
	now     func() time.Time

	mu      sync.RWMutex
	local   *profileTable
	changed map[int64]change // users cdc announced lately
	recent  time.Duration    // how long they count as changed: pages built before live at most an epoch
	anyNew  atomic.Bool      // changed is not empty
	// seq counts announcements and resets; cleared is its value at the
	// last reset. A lookup keeps in process only what no announcement
	// overtook while it read Redis or MySQL (see lookup).
	seq, cleared uint64

	queries *prometheus.CounterVec // round trips, by tier
	users   *prometheus.CounterVec // users resolved, by tier ("missing": none could say)
}

// change is one announcement of cdc's: when it came and its place in seq.
type change struct {
	at  time.Time
	seq uint64
}

func newAuthors(src Profiles, redisBr, mysqlBr *breaker, o Options, reg prometheus.Registerer) *authors {
	a := &authors{
		src: src, redisBr: redisBr, mysqlBr: mysqlBr, timeout: DefaultProfileTimeout, max: maxChanged, now: o.Now,
		local: newProfileTable(DefaultProfileEntries, DefaultProfileBytes), changed: make(map[int64]change), recent: 2 * o.MaxAge,
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "readsvc_profile_queries_total",
			Help: "Round trips for author profiles while building pages, by tier (redis, mysql).",
		}, []string{"tier"}),
		users: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "readsvc_profile_users_total",
			Help: "Authors resolved while building pages, by the tier that had them (memory, redis, mysql, missing).",
		}, []string{"tier"}),
	}
	reg.MustRegister(a.queries, a.users)
	return a
}

// forget drops a user's in-process copy (cdc changed it).
func (a *authors) forget(user int64) {
	now := a.now()
	a.mu.Lock()
	a.local.del(user)
	if len(a.changed) >= a.max {
		for u, c := range a.changed {
			if now.Sub(c.at) > a.recent {
				delete(a.changed, u)
			}
		}
	}
	a.seq++
	a.changed[user] = change{at: now, seq: a.seq}
	a.anyNew.Store(true)
	a.mu.Unlock()
}

// changedAmong reports whether cdc announced a change of one of users
// within the last two epochs.
func (a *authors) changedAmong(users []int64) bool {
	if len(users) == 0 || !a.anyNew.Load() {
		return false
	}
	now := a.now()
	a.mu.RLock()
	defer a.mu.RUnlock()
	for _, u := range users {
		if c, ok := a.changed[u]; ok && now.Sub(c.at) <= a.recent {
			return true
		}
	}
	return false
}

// reset drops every in-process copy (announcements may have been lost).
func (a *authors) reset() {
	a.mu.Lock()
	a.local.reset()
	a.seq++
	a.cleared = a.seq
	a.mu.Unlock()
}

// lookup returns the profiles of users it could find; a user missing from
// the result could not be read (Redis and MySQL both failed for it).
// Profiles ctx carries (withProfiles) come first, then the in-process
// copies, then Redis and MySQL (fetch).
func (a *authors) lookup(ctx context.Context, users []int64) map[int64]profiles.Profile {
	out := make(map[int64]profiles.Profile, len(users))
	given, _ := ctx.Value(profilesKey{}).(map[int64]profiles.Profile)
	now := a.now()
	var need []int64
	a.mu.RLock()
	began := a.seq
	for _, u := range users {
		if p, ok := given[u]; ok {
			out[u] = p
		} else if p, at, ok := a.local.get(u); ok && now.Sub(at) < localProfileTTL {
			out[u] = p
		} else {
			need = append(need, u)
		}
	}
	a.mu.RUnlock()
	a.users.WithLabelValues("memory").Add(float64(len(users) - len(need)))
	if len(need) > 0 {
		a.keep(began, now, a.fetch(ctx, need), out)
	}
	return out
}

// current reads users' profiles past the in-process copies, as a CDN's
// fetch must (see Reader.page); ok is false when some could not be read.
func (a *authors) current(ctx context.Context, users []int64) (map[int64]profiles.Profile, bool) {
	now := a.now()
	a.mu.RLock()
	began := a.seq
	a.mu.RUnlock()
	out := make(map[int64]profiles.Profile, len(users))
	a.keep(began, now, a.fetch(ctx, slices.Clone(users)), out) // users is a page's: fetch edits need
	return out, len(out) == len(users)
}

// fetch reads need from Redis, then what Redis lacks from MySQL (filling
// Redis with it); a user missing from the result could not be read. It
// edits need in place.
func (a *authors) fetch(ctx context.Context, need []int64) map[int64]profiles.Profile {
	fetched := make(map[int64]profiles.Profile, len(need))
	useRedis := a.src.Cache != nil && a.redisBr.allow()
	if useRedis {
		a.queries.WithLabelValues("redis").Inc()
		tctx, cancel := context.WithTimeout(ctx, a.timeout)
		got, err := a.src.Cache.Get(tctx, need)
		cancel()
		if err == nil {
			maps.Copy(fetched, got)
			need = slices.DeleteFunc(need, func(u int64) bool { _, ok := got[u]; return ok })
		}
		a.users.WithLabelValues("redis").Add(float64(len(got)))
	}
	if len(need) > 0 && a.mysqlBr.allow() {
		a.queries.WithLabelValues("mysql").Inc()
		tctx, cancel := context.WithTimeout(ctx, a.timeout)
		got, err := a.src.Store.Load(tctx, need)
		cancel()
		a.mysqlBr.record(err)
		if err == nil {
			a.users.WithLabelValues("mysql").Add(float64(len(got)))
			maps.Copy(fetched, got)
			if useRedis {
				tctx, cancel := context.WithTimeout(ctx, a.timeout)
				_ = a.src.Cache.Fill(tctx, got) // a failed fill is read from MySQL again next time
				cancel()
			}
			need = need[:0]
		}
	}
	a.users.WithLabelValues("missing").Add(float64(len(need)))
	return fetched
}

// keep adds fetched to out and to the in-process copies, all but the users
// cdc announced since began (a.seq when the read started). cdc overwrites
// the Redis copy and then announces, so a read that began before the
// announcement may hold the old profile, and kept, it would outlive the
// announcement that dropped it by localProfileTTL (and every page built
// meanwhile, a CDN's included, would show it). The page being built still
// shows what was read: it was true when read, and that page lives an
// epoch at most.
func (a *authors) keep(began uint64, now time.Time, fetched, out map[int64]profiles.Profile) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for u, p := range fetched {
		out[u] = p
		if a.cleared > began {
			continue
		}
		if c, ok := a.changed[u]; ok && c.seq > began {
			continue
		}
		p.UserID = u
		a.local.put(p, now)
	}
}

type profilesKey struct{}

// withProfiles has the pages built under ctx show ps for their authors.
func withProfiles(ctx context.Context, ps map[int64]profiles.Profile) context.Context {
	return context.WithValue(ctx, profilesKey{}, ps)
}

// showsAuthors reports whether p shows its authors as ps has them (p's
// authors are those its u-tags name, which seal wrote in the order of the
// authors section, at the body's end).
func showsAuthors(p *Page, ps map[int64]profiles.Profile, now time.Time) bool {
	return p.endsWith(append(appendAuthors(nil, p.authors, ps, now), '}'))
}

// pageAuthors returns the authors of entries in the order they first
// appear, and the profiles of those it could read (none without
// Profiles).
func (r *Reader) pageAuthors(ctx context.Context, entries []pagecache.Entry) ([]int64, map[int64]profiles.Profile) {
	if r.authors == nil {
		return nil, nil
	}
	users := make([]int64, 0, len(entries))
	for _, e := range entries {
		if u, ok := authorOf(e.Body); ok && !slices.Contains(users, u) {
			users = append(users, u)
		}
	}
	return users, r.authors.lookup(ctx, users)
}

// appendAuthors appends `,"authors":{…}`: {"ID":{"display_name":…,
// "avatar_url":…,"banned":…}} for each of users whose profile was found,
// in users' order. Authors whose profiles could not be read are left out.
func appendAuthors(b []byte, users []int64, found map[int64]profiles.Profile, now time.Time) []byte {
	b = append(b, `,"authors":{`...)
	first := true
	for _, u := range users {
		p, ok := found[u]
		if !ok {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '"')
		b = strconv.AppendInt(b, u, 10)
		b = append(b, `":{"display_name":`...)
		b = appendJSONString(b, p.DisplayName)
		b = append(b, `,"avatar_url":`...)
		b = appendJSONString(b, p.AvatarURL)
		b = append(b, `,"banned":`...)
		b = strconv.AppendBool(b, p.Banned(now))
		b = append(b, '}')
	}
	return append(b, '}')
}

// authorTags is tag followed by the CDN tag of each author found.
func authorTags(tag string, users []int64, found map[int64]profiles.Profile) string {
	b := []byte(tag)
	for _, u := range users {
		if _, ok := found[u]; ok {
			b = append(b, ' ')
			b = append(b, cdn.UserTag(u)...)
		}
	}
	return string(b)
}

func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

// authorOf reads the user id of a public comment body ("user_id": a
// decimal string, internal/comment), once per comment of every page
// built. The body is comment.Public as json.Marshal wrote it: a flat
// object, so the first `"user_id":"` is its key (inside a JSON string a
// quote is escaped, and the sequence cannot occur), and the digits up to
// the closing quote are the id. Any other shape goes through
// encoding/json, which cost 13% of readsvc's CPU on Zipf reads.
func authorOf(body []byte) (int64, bool) {
	if i := bytes.Index(body, userIDKey); i >= 0 {
		rest := body[i+len(userIDKey):]
		if j := bytes.IndexByte(rest, '"'); j > 0 {
			if n, err := strconv.ParseInt(string(rest[:j]), 10, 64); err == nil {
				return n, n > 0
			}
		}
	}
	var c struct {
		UserID string `json:"user_id"`
	}
	if json.Unmarshal(body, &c) != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(c.UserID, 10, 64)
	return n, err == nil && n > 0
}

var userIDKey = []byte(`"user_id":"`)
