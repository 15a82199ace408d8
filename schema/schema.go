// Package schema holds vidcomments' MySQL DDL and Cassandra CQL as numbered
// files, embedded in the binaries, and applies them idempotently: each file
// is recorded in a schema_migrations table once applied, and every statement
// is itself safe to re-run (IF NOT EXISTS), so an apply interrupted half-way
// simply runs again.
package schema

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strings"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
)

//go:embed mysql/*.sql cql/*.cql
var files embed.FS

// File is one numbered schema file.
type File struct {
	Name       string   // e.g. "001_comments.sql"
	Statements []string // in file order, without trailing semicolons
}

// MySQLFiles returns the MySQL files in order.
func MySQLFiles() ([]File, error) { return load("mysql") }

// CQLFiles returns the CQL files in order, with ${keyspace} replaced.
func CQLFiles(keyspace string) ([]File, error) {
	fs, err := load("cql")
	if err != nil {
		return nil, err
	}
	for i := range fs {
		for j, s := range fs[i].Statements {
			fs[i].Statements[j] = strings.ReplaceAll(s, "${keyspace}", keyspace)
		}
	}
	return fs, nil
}

var numbered = regexp.MustCompile(`^\d{3}_[a-z0-9_]+\.(sql|cql)$`)

func load(dir string) ([]File, error) {
	entries, err := fs.ReadDir(files, dir)
	if err != nil {
		return nil, err
	}
	var out []File
	for _, e := range entries {
		if !numbered.MatchString(e.Name()) {
			return nil, fmt.Errorf("schema file %s/%s: name must be NNN_name.ext", dir, e.Name())
		}
		b, err := files.ReadFile(dir + "/" + e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, File{Name: e.Name(), Statements: Split(string(b))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Split cuts a script into statements: "--" comments are dropped (outside
// quotes) and a statement ends at a semicolon outside quotes.
func Split(script string) []string {
	var (
		out   []string
		cur   strings.Builder
		quote rune
	)
	rs := []rune(script)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case quote != 0:
			cur.WriteRune(r)
			if r == quote {
				quote = 0
			}
		case r == '\'' || r == '"' || r == '`':
			quote = r
			cur.WriteRune(r)
		case r == '-' && i+1 < len(rs) && rs[i+1] == '-':
			for i < len(rs) && rs[i] != '\n' {
				i++
			}
			cur.WriteRune('\n')
		case r == ';':
			if s := strings.TrimSpace(cur.String()); s != "" {
				out = append(out, s)
			}
			cur.Reset()
		default:
			cur.WriteRune(r)
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

// ApplyMySQL applies every MySQL file not yet recorded in db's
// schema_migrations table. db must point at the target database.
func ApplyMySQL(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		name VARCHAR(128) NOT NULL PRIMARY KEY,
		applied_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
	) ENGINE=InnoDB`); err != nil {
		return fmt.Errorf("schema_migrations: %w", err)
	}
	files, err := MySQLFiles()
	if err != nil {
		return err
	}
	for _, f := range files {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE name = ?`, f.Name).Scan(&n); err != nil {
			return fmt.Errorf("schema %s: %w", f.Name, err)
		}
		if n > 0 {
			continue
		}
		for _, stmt := range f.Statements {
			if _, err := db.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("schema %s: %w\n%s", f.Name, err, stmt)
			}
		}
		if _, err := db.ExecContext(ctx, `INSERT IGNORE INTO schema_migrations (name) VALUES (?)`, f.Name); err != nil {
			return fmt.Errorf("schema %s: record: %w", f.Name, err)
		}
	}
	return nil
}

// ApplyCQL creates keyspace (SimpleStrategy with rf replicas, when absent)
// and applies every CQL file not yet recorded in its schema_migrations table.
// s may be a session without a keyspace.
func ApplyCQL(ctx context.Context, s *gocql.Session, keyspace string, rf int) error {
	if !validKeyspace.MatchString(keyspace) {
		return fmt.Errorf("keyspace %q: want [a-z][a-z0-9_]{0,47}", keyspace)
	}
	stmts := []string{
		fmt.Sprintf(`CREATE KEYSPACE IF NOT EXISTS %s WITH replication = {'class': 'SimpleStrategy', 'replication_factor': %d}`, keyspace, rf),
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s.schema_migrations (name text PRIMARY KEY, applied_at timestamp)`, keyspace),
	}
	for _, stmt := range stmts {
		if err := s.Query(stmt).ExecContext(ctx); err != nil {
			return fmt.Errorf("cql: %w\n%s", err, stmt)
		}
	}
	files, err := CQLFiles(keyspace)
	if err != nil {
		return err
	}
	for _, f := range files {
		var name string
		err := s.Query(fmt.Sprintf(`SELECT name FROM %s.schema_migrations WHERE name = ?`, keyspace), f.Name).ScanContext(ctx, &name)
		if err == nil {
			continue
		}
		if err != gocql.ErrNotFound {
			return fmt.Errorf("cql %s: %w", f.Name, err)
		}
		for _, stmt := range f.Statements {
			if err := execDDL(ctx, s, stmt); err != nil {
				return fmt.Errorf("cql %s: %w\n%s", f.Name, err, stmt)
			}
		}
		if err := s.Query(fmt.Sprintf(`INSERT INTO %s.schema_migrations (name, applied_at) VALUES (?, toTimestamp(now()))`, keyspace), f.Name).ExecContext(ctx); err != nil {
			return fmt.Errorf("cql %s: record: %w", f.Name, err)
		}
	}
	return nil
}

// ddlAttempts bounds the tries of one CQL statement that timed out: a
// schema change on a busy node can outlast the client timeout and still
// apply, and every statement is safe to re-run.
const ddlAttempts = 3

// execDDL runs one schema statement, again after a client-side timeout, and
// treats "the column is already there" as done.
func execDDL(ctx context.Context, s *gocql.Session, stmt string) error {
	var err error
	for range ddlAttempts {
		err = s.Query(stmt).ExecContext(ctx)
		if err == nil || AlreadyApplied(stmt, err) {
			return nil
		}
		if !errors.Is(err, gocql.ErrTimeoutNoResponse) || ctx.Err() != nil {
			return err
		}
	}
	return err
}

// AlreadyApplied reports whether err only says that an ALTER TABLE … ADD
// statement's column is already there: a file whose earlier apply was
// interrupted after it (or a server without ADD IF NOT EXISTS) must still
// apply on the next run.
func AlreadyApplied(stmt string, err error) bool {
	if err == nil || !strings.HasPrefix(strings.ToUpper(strings.TrimSpace(stmt)), "ALTER TABLE") {
		return false
	}
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "already exist") || strings.Contains(msg, "conflicts with an existing column")
}

var validKeyspace = regexp.MustCompile(`^[a-z][a-z0-9_]{0,47}$`)
