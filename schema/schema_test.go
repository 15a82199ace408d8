package schema_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/stacktest"
	"github.com/vidcomments/vidcomments/schema"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		name   string
		script string
		want   []string
	}{
		{"two statements", "CREATE TABLE a (x INT);\nCREATE TABLE b (y INT);\n", []string{"CREATE TABLE a (x INT)", "CREATE TABLE b (y INT)"}},
		{"comments dropped", "-- header; with a semicolon\nSELECT 1; -- trailing\n", []string{"SELECT 1"}},
		{"semicolon in quotes kept", "INSERT INTO t VALUES ('a;b', \"c;d\");", []string{"INSERT INTO t VALUES ('a;b', \"c;d\")"}},
		{"dashes in quotes kept", "SELECT '--not a comment';", []string{"SELECT '--not a comment'"}},
		{"no trailing semicolon", "SELECT 1", []string{"SELECT 1"}},
		{"only comments", "-- nothing\n\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := schema.Split(tt.script); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Split = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFilesAreNumberedAndParse(t *testing.T) {
	my, err := schema.MySQLFiles()
	if err != nil || len(my) == 0 {
		t.Fatalf("MySQL files: %v (%d)", err, len(my))
	}
	cql, err := schema.CQLFiles("ks")
	if err != nil || len(cql) == 0 {
		t.Fatalf("CQL files: %v (%d)", err, len(cql))
	}
	for _, f := range cql {
		for _, s := range f.Statements {
			if s == "" {
				t.Errorf("%s: empty statement", f.Name)
			}
		}
	}
}

func TestApplyMySQLTwiceAndVersionTrigger(t *testing.T) {
	my := stacktest.NewMySQL(t) // applies once
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := schema.ApplyMySQL(ctx, my.DB); err != nil {
		t.Fatalf("second apply: %v", err)
	}
	var applied int
	if err := my.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	files, _ := schema.MySQLFiles()
	if applied != len(files) {
		t.Errorf("%d migrations recorded, want %d", applied, len(files))
	}

	// A hand-written UPDATE that forgets the version still moves it forward.
	if _, err := my.DB.ExecContext(ctx, `INSERT INTO comments (id, video_id, user_id, content, status, created_at, updated_at, version)
		VALUES (1, 1, 1, 'x', 'pending', NOW(6), NOW(6), 5)`); err != nil {
		t.Fatal(err)
	}
	if _, err := my.DB.ExecContext(ctx, `UPDATE comments SET status = 'approved' WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	var v int64
	if err := my.DB.QueryRowContext(ctx, `SELECT version FROM comments WHERE id = 1`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v <= 5 {
		t.Errorf("version after a plain UPDATE = %d, want > 5", v)
	}
	// An unknown status is refused by the database itself.
	if _, err := my.DB.ExecContext(ctx, `UPDATE comments SET status = 'shadowbanned' WHERE id = 1`); err == nil {
		t.Error("status 'shadowbanned' accepted")
	}
}

func TestApplyCQLTwice(t *testing.T) {
	c := stacktest.NewCassandra(t) // applies once
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := schema.ApplyCQL(ctx, c.Session, c.Config.Keyspace, 1); err != nil {
		t.Fatalf("second apply: %v", err)
	}
	var n int
	if err := c.Session.Query(`SELECT COUNT(*) FROM schema_migrations`).ScanContext(ctx, &n); err != nil {
		t.Fatal(err)
	}
	files, _ := schema.CQLFiles(c.Config.Keyspace)
	if n != len(files) {
		t.Errorf("%d migrations recorded, want %d", n, len(files))
	}
	for _, table := range []string{"comments_by_video", "video_buckets", "comments_by_id", "video_counts"} {
		if err := c.Session.Query(`SELECT * FROM ` + table + ` LIMIT 1`).ExecContext(ctx); err != nil {
			t.Errorf("table %s: %v", table, err)
		}
	}
	if err := schema.ApplyCQL(ctx, c.Session, "Bad-Name", 1); err == nil {
		t.Error("invalid keyspace name accepted")
	}
}

// TestReapplyLikesRepliesStatements: every statement of 040 runs again on a
// schema that already has it (an apply interrupted before the file was
// recorded), in both databases.
func TestReapplyLikesRepliesStatements(t *testing.T) {
	my := stacktest.NewMySQL(t)
	c := stacktest.NewCassandra(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	mfiles, _ := schema.MySQLFiles()
	cfiles, _ := schema.CQLFiles(c.Config.Keyspace)
	tests := []struct {
		name  string
		files []schema.File
		exec  func(stmt string) error
	}{
		{"mysql", mfiles, func(s string) error { _, err := my.DB.ExecContext(ctx, s); return err }},
		{"cql", cfiles, func(s string) error {
			err := c.Session.Query(s).ExecContext(ctx)
			if schema.AlreadyApplied(s, err) {
				return nil
			}
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			found := false
			for _, f := range tt.files {
				if !strings.HasPrefix(f.Name, "040_") {
					continue
				}
				found = true
				for _, s := range f.Statements {
					if err := tt.exec(s); err != nil {
						t.Errorf("%s again: %v\n%s", f.Name, err, s)
					}
				}
			}
			if !found {
				t.Fatal("no 040 file")
			}
		})
	}
	for _, table := range []string{"comment_likes", "hot_by_video", "video_hot_bands", "replies_by_parent", "video_pins"} {
		if err := c.Session.Query(`SELECT * FROM ` + table + ` LIMIT 1`).ExecContext(ctx); err != nil {
			t.Errorf("table %s: %v", table, err)
		}
	}
	if err := c.Session.Query(`SELECT edited_at FROM comments_by_id LIMIT 1`).ExecContext(ctx); err != nil {
		t.Errorf("comments_by_id.edited_at: %v", err)
	}
	if _, err := my.DB.ExecContext(ctx, `SELECT edited_at FROM comments LIMIT 1`); err != nil {
		t.Errorf("comments.edited_at: %v", err)
	}
}

func TestAlreadyApplied(t *testing.T) {
	tests := []struct {
		name, stmt string
		err        error
		want       bool
	}{
		{"column exists", "ALTER TABLE ks.t ADD x int", errors.New("Invalid column name x because it conflicts with an existing column"), true},
		{"already exists", " alter table ks.t ADD x int", errors.New("Column x already exists"), true},
		{"other error", "ALTER TABLE ks.t ADD x int", errors.New("unconfigured table t"), false},
		{"not an alter", "CREATE TABLE ks.t (x int PRIMARY KEY)", errors.New("already exists"), false},
		{"no error", "ALTER TABLE ks.t ADD x int", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := schema.AlreadyApplied(tt.stmt, tt.err); got != tt.want {
				t.Errorf("AlreadyApplied = %v, want %v", got, tt.want)
			}
		})
	}
}
