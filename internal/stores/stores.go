// Package stores opens the clients of the four servers vidcomments runs on —
// MySQL/MariaDB, Redis, Kafka and Cassandra — with the settings every service
// shares, and gives each a readiness check that really talks to the server.
package stores

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/IBM/sarama"
	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"

	"github.com/vidcomments/vidcomments/internal/config"
)

// KafkaVersion is the protocol version vidcomments speaks. Kafka 4 removed
// the protocol versions older than 2.1 that Sarama's default still uses.
var KafkaVersion = sarama.V4_0_0_0

// MySQLConfig parses a DSN and applies what vidcomments relies on: UTC
// times parsed into time.Time, bounded dial/read/write timeouts, utf8mb4.
func MySQLConfig(dsn string) (*mysql.Config, error) {
	c, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("mysql dsn: %w", err)
	}
	c.ParseTime = true
	c.Loc = time.UTC
	if c.Timeout == 0 {
		c.Timeout = config.DefaultDialTimeout
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = 30 * time.Second
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 30 * time.Second
	}
	if c.Collation == "" || c.Collation == mysql.NewConfig().Collation {
		c.Collation = "utf8mb4_bin"
	}
	if c.Params == nil {
		c.Params = map[string]string{}
	}
	c.Params["time_zone"] = "'+00:00'"
	return c, nil
}

// OpenMySQL opens a pool and checks it with a ping.
func OpenMySQL(ctx context.Context, cfg config.MySQL) (*sql.DB, error) {
	c, err := MySQLConfig(cfg.DSN)
	if err != nil {
		return nil, err
	}
	conn, err := mysql.NewConnector(c)
	if err != nil {
		return nil, fmt.Errorf("mysql connector: %w", err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(64)
	db.SetMaxIdleConns(64)
	db.SetConnMaxLifetime(30 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("mysql %s: %w", c.Addr, err)
	}
	return db, nil
}

// NewRedis returns a UniversalClient: a single-node client for one address,
// a cluster client for several. It does not dial; use PingRedis.
func NewRedis(cfg config.Redis) redis.UniversalClient {
	return redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:        cfg.Addrs,
		DialTimeout:  2 * time.Second,
		ReadTimeout:  time.Second,
		WriteTimeout: time.Second,
		PoolSize:     128,
		// A down Redis must fail fast (DESIGN.md failure table), not queue.
		PoolTimeout: 500 * time.Millisecond,
		MaxRetries:  1,
	})
}

// PingRedis checks Redis answers.
func PingRedis(ctx context.Context, c redis.UniversalClient) error {
	if err := c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis ping: %w", err)
	}
	return nil
}

// SaramaConfig returns the Sarama settings shared by every producer and
// consumer: protocol version, client id, bounded network timeouts.
func SaramaConfig(clientID string) *sarama.Config {
	c := sarama.NewConfig()
	c.Version = KafkaVersion
	c.ClientID = clientID
	c.Net.DialTimeout = config.DefaultDialTimeout
	c.Metadata.Retry.Max = 2
	c.Metadata.Retry.Backoff = 250 * time.Millisecond
	return c
}

// PingKafka asks the cluster for its metadata through client.
func PingKafka(client sarama.Client) error {
	if err := client.RefreshMetadata(); err != nil {
		return fmt.Errorf("kafka metadata: %w", err)
	}
	if len(client.Brokers()) == 0 {
		return errors.New("kafka metadata: no brokers")
	}
	return nil
}

// CassandraCluster builds the gocql cluster configuration from cfg; keyspace
// "" leaves the session without a keyspace (schema set-up).
func CassandraCluster(cfg config.Cassandra, keyspace string) (*gocql.ClusterConfig, error) {
	if len(cfg.Hosts) == 0 {
		return nil, errors.New("cassandra: no hosts")
	}
	cons, err := gocql.ParseConsistencyWrapper(cfg.Consistency)
	if err != nil {
		return nil, fmt.Errorf("cassandra consistency: %w", err)
	}
	hosts, port, err := splitHosts(cfg.Hosts)
	if err != nil {
		return nil, err
	}
	c := gocql.NewCluster(hosts...)
	c.Port = port
	c.Keyspace = keyspace
	c.Consistency = cons
	c.Timeout = cfg.Timeout
	c.ConnectTimeout = cfg.Timeout
	c.WriteTimeout = cfg.Timeout
	c.ReconnectInterval = time.Second
	return c, nil
}

// OpenCassandra opens a session on cfg.Keyspace.
func OpenCassandra(cfg config.Cassandra) (*gocql.Session, error) {
	c, err := CassandraCluster(cfg, cfg.Keyspace)
	if err != nil {
		return nil, err
	}
	s, err := c.CreateSession()
	if err != nil {
		return nil, fmt.Errorf("cassandra %v keyspace %q: %w", cfg.Hosts, cfg.Keyspace, err)
	}
	return s, nil
}

// PingCassandra runs a real query against the coordinator.
func PingCassandra(ctx context.Context, s *gocql.Session) error {
	var v string
	if err := s.Query("SELECT release_version FROM system.local").ScanContext(ctx, &v); err != nil {
		return fmt.Errorf("cassandra query: %w", err)
	}
	return nil
}

// splitHosts turns "h:p" contact points into gocql's hosts plus one port;
// gocql applies a single port to every host.
func splitHosts(addrs []string) ([]string, int, error) {
	port := config.DefaultCassandraPort
	hosts := make([]string, 0, len(addrs))
	for i, a := range addrs {
		h, p, err := net.SplitHostPort(a)
		if err != nil {
			hosts = append(hosts, a) // bare host, default port
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, 0, fmt.Errorf("cassandra host %q: bad port", a)
		}
		if i > 0 && n != port {
			return nil, 0, fmt.Errorf("cassandra hosts %v: all contact points must share one port", addrs)
		}
		port = n
		hosts = append(hosts, h)
	}
	return hosts, port, nil
}
