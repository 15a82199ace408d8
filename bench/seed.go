package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/stores/mysqlstore"
	"github.com/vidcomments/vidcomments/schema"
	"github.com/vidcomments/vidcomments/syncer/readmodel"
)

// dataset is what seed wrote: videos First..First+len(Counts)-1, video
// First (rank 0) the hot one, Counts[i] approved root comments on video
// First+i, and Replies replies on the hot video.
type dataset struct {
	First   int64
	Counts  []int
	Total   int // root comments
	Replies int // replies on the hot video's newest comments, beside Total
}

func (d dataset) video(rank int) int64 { return d.First + int64(rank) }

// seedNode is the node number of seeded ids; they lie in the past, so they
// never meet ids writesvc makes now whatever node it holds.
const seedNode = comment.MaxNode

// seedChunk is how many comments are generated and written at once.
const seedChunk = 5000

// seed writes the profile's comments through the bulk path: approved rows
// into MySQL with multi-row INSERTs (version = created_at in µs, as
// writesvc would stamp them) and the same rows through the read model's
// bulk loader (syncer/readmodel.Loader), which writes exactly the rows the
// syncer's Apply would and derives the counts once at the end. The newest
// p.ReplyParents comments of the hot video get p.RepliesEach replies each,
// written last with their parents' reply_count already set, as writesvc
// keeps it. The change log's INSERT trigger is lifted for the load and put
// back after it (withoutChangeLog). Redis is left empty: readsvc fills it
// lazily, as after a cache flush. cdc must start after seed (it begins at
// the end of the binlog).
func seed(ctx context.Context, c *cluster, p profile, logger *slog.Logger) (dataset, time.Duration, error) {
	d := dataset{First: 1e12 + rand.Int64N(8e12), Counts: zipfCounts(p.Comments, p.Videos, p.Hot, 1.0), Total: p.Comments}
	assign := make([]int32, 0, p.Comments)
	for v, n := range d.Counts {
		for range n {
			assign = append(assign, int32(v))
		}
	}
	r := rand.New(rand.NewPCG(uint64(d.First), 7))
	r.Shuffle(len(assign), func(i, j int) { assign[i], assign[j] = assign[j], assign[i] })
	parents := map[int]bool{} // indexes into assign of the hot video's newest comments
	for i := len(assign) - 1; i >= 0 && len(parents) < p.ReplyParents; i-- {
		if assign[i] == 0 {
			parents[i] = true
		}
	}
	replies := len(parents) * p.RepliesEach
	d.Replies = replies

	const gap = 100 * time.Millisecond // between consecutive seeded comments
	all := p.Comments + replies
	startAt := time.Now().Add(-time.Duration(all+10)*gap - time.Hour).UTC().Truncate(time.Millisecond)
	restore, err := withoutChangeLog(ctx, c.DB)
	if err != nil {
		return d, 0, fmt.Errorf("seed: lift the change log: %w", err)
	}
	loader := readmodel.NewWriter(c.Session, 64, nil).NewLoader()
	bar := newProgress("seed", all)
	began := time.Now()
	var myBusy, cqlBusy time.Duration // which store the seed waits for
	var parentIDs []int64
	row := func(i int, video, parent int64) comment.Comment {
		id := comment.MinIDAt(startAt.Add(time.Duration(i)*gap)) | seedNode<<comment.SeqBits
		created := comment.IDTime(id).UTC()
		return comment.Comment{
			ID: id, VideoID: video, ParentID: parent, UserID: 1 + int64(r.IntN(100000)),
			Content: fmt.Sprintf("bench comment %d: %s", i, lorem[i%len(lorem)]), Status: comment.Approved,
			CreatedAt: created, Version: comment.NextVersion(0, created),
		}
	}
	for off := 0; off < all; off += seedChunk {
		rows := make([]comment.Comment, min(seedChunk, all-off))
		for k := range rows {
			i := off + k
			if i >= p.Comments { // a reply, its parent's replies one after another
				j := i - p.Comments
				rows[k] = row(i, d.video(0), parentIDs[j/p.RepliesEach])
				continue
			}
			rows[k] = row(i, d.video(int(assign[i])), 0)
			if parents[i] {
				rows[k].ReplyCount = int64(p.RepliesEach)
				parentIDs = append(parentIDs, rows[k].ID)
			}
		}
		var wg sync.WaitGroup
		var myErr, cqlErr error
		wg.Go(func() {
			t := time.Now()
			myErr = insertRows(ctx, c.DB, rows)
			myBusy += time.Since(t)
		})
		wg.Go(func() {
			t := time.Now()
			cqlErr = loader.Load(ctx, rows)
			cqlBusy += time.Since(t)
		})
		wg.Wait()
		if myErr != nil {
			return d, 0, fmt.Errorf("seed mysql: %w", myErr)
		}
		if cqlErr != nil {
			return d, 0, fmt.Errorf("seed cassandra: %w", cqlErr)
		}
		bar.set(off + len(rows))
	}
	bar.done()
	if err := restore(ctx); err != nil {
		return d, 0, fmt.Errorf("seed: put the change log back: %w", err)
	}
	t := time.Now()
	recount := newProgress("seed counts (videos)", len(d.Counts))
	if err := loader.Recount(ctx, func(done, _ int) { recount.set(done) }); err != nil {
		return d, 0, fmt.Errorf("seed cassandra counts: %w", err)
	}
	recount.done()
	cqlBusy += time.Since(t)
	took := time.Since(began)
	logger.Info("seeded", "videos", p.Videos, "comments", p.Comments, "replies", replies, "hot", d.Counts[0], "took", took.Round(time.Millisecond),
		"rate", fmt.Sprintf("%.0f/s", float64(all)/took.Seconds()),
		"mysql_busy", myBusy.Round(time.Millisecond), "cassandra_busy", cqlBusy.Round(time.Millisecond))
	return d, took, nil
}

var lorem = []string{
	"what a great video, watched it twice",
	"the part at 3:15 is the best",
	"näive question: which camera was this filmed with?",
	"first! (not really)",
	"thanks for the detailed explanation, it finally clicked for me",
	"I disagree with the conclusion but the argument is well made",
	"日本語のコメントもあります",
}

// insertRows writes rows with multi-row INSERTs of up to 1000 rows, four
// statements at a time, each in its own transaction. The seed runs with
// the change log's INSERT trigger lifted (withoutChangeLog): the bulk
// path writes the read model itself, so the "created" events the trigger
// would put into the outbox are not wanted, and writing them (JSON built
// in SQL, per row) and deleting them again was three quarters of
// MariaDB's seeding time.
func insertRows(ctx context.Context, db *sql.DB, rows []comment.Comment) error {
	const per = 1000
	var wg sync.WaitGroup
	errs := make(chan error, (len(rows)+per-1)/per)
	sem := make(chan struct{}, 4)
	for off := 0; off < len(rows); off += per {
		part := rows[off:min(off+per, len(rows))]
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			var q strings.Builder
			q.WriteString("INSERT INTO comments (id, video_id, user_id, parent_id, content, status, like_count, reply_count, created_at, updated_at, version) VALUES ")
			args := make([]any, 0, len(part)*11)
			for i, c := range part {
				if i > 0 {
					q.WriteString(",")
				}
				q.WriteString("(?,?,?,?,?,?,?,?,?,?,?)")
				args = append(args, c.ID, c.VideoID, c.UserID, c.ParentID, c.Content, string(c.Status), c.LikeCount, c.ReplyCount, c.CreatedAt, c.CreatedAt, c.Version)
			}
			if err := insertRetrying(ctx, db, q.String(), args); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// insertRetrying runs one multi-row INSERT; a deadlock (InnoDB picks a
// victim among the concurrent inserts into the same indexes) is retried
// from the start, as MySQL asks.
func insertRetrying(ctx context.Context, db *sql.DB, insert string, args []any) error {
	var err error
	for attempt := 0; attempt < 8; attempt++ {
		if _, err = db.ExecContext(ctx, insert, args...); !isDeadlock(err) {
			return err
		}
		time.Sleep(time.Duration(attempt+1) * 20 * time.Millisecond)
	}
	return err
}

// changeLogInsert is the trigger that writes a "created" event for every
// comment row inserted (schema/mysql/050).
const changeLogInsert = "comments_change_log_insert"

// withoutChangeLog lifts the comments INSERT trigger of the change log in
// the bench's private database for a bulk load, as a migration of existing
// data would: load the rows, then install the change log. restore puts the
// trigger back with the statement of the schema files, before any service
// starts, so every change after the seed is logged as in production. Only
// for a database nothing else writes to.
func withoutChangeLog(ctx context.Context, db *sql.DB) (restore func(context.Context) error, err error) {
	files, err := schema.MySQLFiles()
	if err != nil {
		return nil, err
	}
	var create string
	for _, f := range files {
		for _, stmt := range f.Statements {
			if strings.Contains(stmt, "TRIGGER IF NOT EXISTS "+changeLogInsert+" ") {
				create = stmt
			}
		}
	}
	if create == "" {
		return nil, fmt.Errorf("no CREATE TRIGGER %s in schema/mysql", changeLogInsert)
	}
	if _, err := db.ExecContext(ctx, "DROP TRIGGER IF EXISTS "+changeLogInsert); err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		_, err := db.ExecContext(ctx, create)
		return err
	}, nil
}

// isDeadlock says whether err is InnoDB's deadlock (1213) or lock wait
// timeout (1205): the transaction was rolled back and may be run again.
func isDeadlock(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1213 || me.Number == 1205)
}

// progress draws a one-line bar with rate and ETA on stderr.
type progress struct {
	name  string
	total int
	start time.Time
	last  time.Time
}

func newProgress(name string, total int) *progress {
	return &progress{name: name, total: total, start: time.Now()}
}

func (p *progress) set(n int) {
	if time.Since(p.last) < 200*time.Millisecond && n < p.total {
		return
	}
	p.last = time.Now()
	el := time.Since(p.start).Seconds()
	rate := float64(n) / max(el, 1e-3)
	eta := time.Duration(float64(p.total-n) / max(rate, 1e-9) * float64(time.Second)).Round(time.Second)
	const width = 30
	fill := width * n / max(p.total, 1)
	fmt.Fprintf(os.Stderr, "\r%s [%s%s] %3d%% %d/%d %.0f/s ETA %v   ", p.name, strings.Repeat("#", fill), strings.Repeat(" ", width-fill), 100*n/max(p.total, 1), n, p.total, rate, eta)
}

func (p *progress) done() { fmt.Fprintln(os.Stderr) }

// seedCheck is the comparison of MySQL, Cassandra and readsvc after a seed.
type seedCheck struct {
	Comments   int      // sampled comments compared in all three
	Pages      int      // first pages compared (ids and total)
	Mismatches int      // differences found
	Examples   []string // the first few
}

// checkSeed samples comments and compares MySQL, Cassandra's comments_by_id
// and what readsvc serves for them; and for a few videos (the hot one
// included) compares readsvc's first page and total with MySQL's newest
// approved ids and count.
func checkSeed(ctx context.Context, c *cluster, d dataset, readURL string, samples int) (seedCheck, error) {
	var chk seedCheck
	bad := func(format string, args ...any) {
		chk.Mismatches++
		if len(chk.Examples) < 5 {
			chk.Examples = append(chk.Examples, fmt.Sprintf(format, args...))
		}
	}
	api := newAPI(readURL, &http.Client{Timeout: 10 * time.Second})
	type row struct {
		id, video, version int64
		content, status    string
	}
	sample, err := mysqlstore.QueryAll(ctx, c.DB, func(rows *sql.Rows, x *row) error {
		return rows.Scan(&x.id, &x.video, &x.content, &x.status, &x.version)
	}, "SELECT id, video_id, content, status, version FROM comments ORDER BY RAND() LIMIT ?", samples)
	if err != nil {
		return chk, err
	}
	for _, x := range sample {
		chk.Comments++
		var video, version int64
		var content, status string
		err := c.Session.Query(`SELECT video_id, content, status, version FROM comments_by_id WHERE id = ?`, x.id).WithContext(ctx).Scan(&video, &content, &status, &version)
		if err != nil {
			bad("comment %d: cassandra: %v", x.id, err)
			continue
		}
		if video != x.video || content != x.content || status != x.status || version != x.version {
			bad("comment %d: mysql (%d %q %s v%d) ≠ cassandra (%d %q %s v%d)", x.id, x.video, x.content, x.status, x.version, video, content, status, version)
		}
		r, err := api.GetCommentWithResponse(ctx, apiID(x.id), nil)
		if err != nil {
			bad("comment %d: readsvc: %v", x.id, err)
			continue
		}
		got := r.JSON200
		if got == nil {
			bad("comment %d: readsvc %d %s", x.id, r.StatusCode(), r.Body)
			continue
		}
		if got.Id != fmt.Sprint(x.id) || got.VideoId != fmt.Sprint(x.video) || got.Content != x.content {
			bad("comment %d: readsvc serves %+v, mysql has video %d %q", x.id, *got, x.video, x.content)
		}
	}
	ranks := []int{0, 1, 2, 3, len(d.Counts) / 2, len(d.Counts) - 1}
	for _, rank := range ranks {
		v := d.video(rank)
		chk.Pages++
		want, err := newestApproved(ctx, c.DB, v, 50)
		if err != nil {
			return chk, err
		}
		var total int64
		if err := c.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM comments WHERE video_id = ? AND parent_id = 0 AND status = 'approved'", v).Scan(&total); err != nil {
			return chk, err
		}
		pg, err := fetchPage(ctx, api, v, "")
		if err != nil {
			bad("video %d: readsvc: %v", v, err)
			continue
		}
		if strings.Join(pg.ids(), ",") != strings.Join(want, ",") || pg.Total != total || total != int64(d.Counts[rank]) {
			bad("video %d: readsvc page %d ids total %d, mysql %d ids total %d, seeded %d", v, len(pg.Comments), pg.Total, len(want), total, d.Counts[rank])
		}
	}
	return chk, nil
}

// newestApproved returns the ids of video's n newest approved roots, in
// decimal.
func newestApproved(ctx context.Context, db *sql.DB, video int64, n int) ([]string, error) {
	return mysqlstore.QueryAll(ctx, db, func(rows *sql.Rows, id *string) error { return rows.Scan(id) },
		"SELECT id FROM comments WHERE video_id = ? AND parent_id = 0 AND status = 'approved' ORDER BY id DESC LIMIT ?", video, n)
}

func get(ctx context.Context, client *http.Client, url string) (int, []byte) {
	code, _, body := fetch(ctx, client, url)
	return code, body
}

// fetch is get with the answer's headers.
func fetch(ctx context.Context, client *http.Client, url string) (int, http.Header, []byte) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, []byte(err.Error())
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, []byte(err.Error())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}
