// Package stack knows the local server stack of scripts/stack: its default
// settings (scripts/stack.env) and how to tell that each server really
// answers, through the same drivers the services use.
package stack

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"

	"github.com/vidcomments/vidcomments/internal/config"
	"github.com/vidcomments/vidcomments/internal/stores/cassandrastore"
	"github.com/vidcomments/vidcomments/internal/stores/kafkastore"
)

// Defaults parses scripts/stack.env (lines NAME=${NAME:-value}) into a map.
func Defaults(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	line := regexp.MustCompile(`^([A-Z0-9_]+)=\$\{([A-Z0-9_]+):-([^}]*)\}$`)
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		m := line.FindStringSubmatch(t)
		if m == nil || m[1] != m[2] {
			return nil, fmt.Errorf("%s: line %q is not NAME=${NAME:-value}", path, t)
		}
		out[m[1]] = m[3]
	}
	return out, sc.Err()
}

// RepoRoot walks up from the working directory to the directory holding
// go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Probe asks the server of the given kind at addr for its version through a
// real client. It returns a short description on success.
func Probe(ctx context.Context, kind, addr string, mysqlUser, mysqlPassword string) (string, error) {
	switch kind {
	case "mariadb", "mysql":
		return probeMySQL(ctx, addr, mysqlUser, mysqlPassword)
	case "redis":
		return probeRedis(ctx, addr)
	case "kafka":
		return probeKafka(addr)
	case "cassandra":
		return probeCassandra(ctx, addr)
	}
	return "", fmt.Errorf("unknown server kind %q", kind)
}

func probeMySQL(ctx context.Context, addr, user, password string) (string, error) {
	c := mysql.NewConfig()
	c.User, c.Passwd, c.Net, c.Addr = user, password, "tcp", addr
	c.Timeout = 2 * time.Second
	conn, err := mysql.NewConnector(c)
	if err != nil {
		return "", err
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	var version, format, image string
	if err := db.QueryRowContext(ctx, `SELECT VERSION(), @@binlog_format, @@binlog_row_image`).Scan(&version, &format, &image); err != nil {
		return "", err
	}
	if format != "ROW" || image != "FULL" {
		return "", fmt.Errorf("binlog_format=%s binlog_row_image=%s, want ROW and FULL", format, image)
	}
	return fmt.Sprintf("%s, binlog %s/%s", version, format, image), nil
}

func probeRedis(ctx context.Context, addr string) (string, error) {
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 2 * time.Second, MaxRetries: -1})
	defer c.Close()
	if err := c.Ping(ctx).Err(); err != nil {
		return "", err
	}
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return "", err
	}
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "redis_version:"); ok {
			return "Redis " + v, nil
		}
	}
	return "Redis (version unknown)", nil
}

func probeKafka(addr string) (string, error) {
	cfg := kafkastore.Config("vidcomments-stackctl")
	cfg.Net.DialTimeout = 2 * time.Second
	cfg.Metadata.Retry.Max = 0
	client, err := sarama.NewClient([]string{addr}, cfg)
	if err != nil {
		return "", err
	}
	defer client.Close()
	if err := kafkastore.Ping(client); err != nil {
		return "", err
	}
	ctl, err := client.Controller()
	if err != nil {
		return "", fmt.Errorf("kafka controller: %w", err)
	}
	return fmt.Sprintf("Kafka, %d broker(s), controller %d", len(client.Brokers()), ctl.ID()), nil
}

func probeCassandra(ctx context.Context, addr string) (string, error) {
	cfg := config.Cassandra{Hosts: []string{addr}, Consistency: "ONE", Timeout: 3 * time.Second}
	s, err := cassandrastore.Open(cfg)
	if err != nil {
		return "", err
	}
	defer s.Close()
	var v string
	if err := s.Query("SELECT release_version FROM system.local").ScanContext(ctx, &v); err != nil {
		return "", err
	}
	return "Cassandra " + v, nil
}
