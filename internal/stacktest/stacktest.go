// Package stacktest connects integration tests to the real local stack
// (scripts/stack) and gives each test run its own database, keyspace and
// topic, dropped when the test ends. A server that does not answer fails the
// test with the command that starts it; nothing is skipped.
package stacktest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"

	"github.com/vidcomments/vidcomments/internal/config"
	"github.com/vidcomments/vidcomments/internal/pagecache/epochkey"
	"github.com/vidcomments/vidcomments/internal/stores/cassandrastore"
	"github.com/vidcomments/vidcomments/internal/stores/kafkastore"
	"github.com/vidcomments/vidcomments/internal/stores/mysqlstore"
	"github.com/vidcomments/vidcomments/internal/stores/redisstore"
	"github.com/vidcomments/vidcomments/schema"
)

// StartHint is what a test says when a server is missing.
const StartHint = "start the local stack with `scripts/stack up` (or `make stack-up`); `make test` does it for you"

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// Name returns a fresh lower-case name with prefix, unique per call, usable
// as a database, keyspace, topic or group name.
func Name(prefix string) string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s_%s_%s", prefix, strings.ToLower(fmt.Sprintf("%x", time.Now().Unix()&0xffffff)), hex.EncodeToString(b))
}

// Integration marks t as needing the stack: it runs under `make test` and is
// left out of `make test-unit` (go test -short). A missing server is never a
// reason to skip; it fails with StartHint.
func Integration(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs the local stack; run `make test`")
	}
}

func missing(t testing.TB, server, addr string, err error) {
	t.Helper()
	t.Fatalf("%s at %s is not answering: %v\n%s", server, addr, err, StartHint)
}

// MySQL is a private database on the stack's MariaDB with the schema applied.
type MySQL struct {
	DB     *sql.DB
	Config config.MySQL // DSN pointing at the private database
	Name   string       // the database name
}

// NewMySQL creates a database for this test, applies the schema and drops
// the database when the test ends.
func NewMySQL(t testing.TB) *MySQL {
	t.Helper()
	Integration(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	base := env("VC_MYSQL_DSN", config.DefaultMySQLDSN)
	mc, err := mysqlstore.Config(base)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := mysqlstore.Open(ctx, config.MySQL{DSN: dsnWithDB(mc, "")})
	if err != nil {
		missing(t, "MariaDB", mc.Addr, err)
	}
	defer admin.Close()
	name := Name("vct")
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4"); err != nil {
		t.Fatalf("create database: %v", err)
	}
	cfg := config.MySQL{DSN: dsnWithDB(mc, name), Flavor: env("VC_MYSQL_FLAVOR", config.DefaultMySQLFlavor)}
	db, err := mysqlstore.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin, err := mysqlstore.Open(ctx, config.MySQL{DSN: dsnWithDB(mc, "")})
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer admin.Close()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	if err := schema.ApplyMySQL(ctx, db); err != nil {
		t.Fatalf("apply MySQL schema: %v", err)
	}
	return &MySQL{DB: db, Config: cfg, Name: name}
}

func dsnWithDB(c *mysql.Config, db string) string {
	cc := c.Clone()
	cc.DBName = db
	return cc.FormatDSN()
}

// MySQLAddr returns host:port, user and password of the stack's MariaDB,
// for clients that are not database/sql (the binlog listener).
func MySQLAddr(t testing.TB) (addr, user, password string) {
	t.Helper()
	Integration(t)
	mc, err := mysql.ParseDSN(env("VC_MYSQL_DSN", config.DefaultMySQLDSN))
	if err != nil {
		t.Fatal(err)
	}
	return mc.Addr, mc.User, mc.Passwd
}

// Redis returns a client of the stack's Redis, closed when the test ends.
// Tests share one Redis: use keys no other test uses (Name helps).
func Redis(t testing.TB) redis.UniversalClient {
	t.Helper()
	Integration(t)
	cfg := config.Redis{Addrs: config.SplitList(env("VC_REDIS_ADDR", config.DefaultRedisAddr))}
	c := redisstore.New(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := redisstore.Ping(ctx, c); err != nil {
		c.Close()
		missing(t, "Redis", strings.Join(cfg.Addrs, ","), err)
	}
	// The shared Redis never loses its data on purpose: mark its epoch
	// (pagecache's "Redis data loss"), as the first cdc against it would,
	// so a cdc a test starts does not recover — dropping every video of
	// the tests running beside it. Tests of a data loss use PrivateRedis.
	keys, err := epochkey.Keys(ctx, c)
	if err != nil {
		t.Fatalf("the shared Redis's epoch keys: %v", err)
	}
	for _, k := range keys {
		if err := c.SetNX(ctx, k, "ok", 0).Err(); err != nil {
			t.Fatalf("mark the shared Redis's epoch: %v", err)
		}
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Kafka is a private topic on the stack's Kafka.
type Kafka struct {
	Config config.Kafka // brokers and the private topic
	Admin  sarama.ClusterAdmin
}

// NewKafka creates a topic with the given number of partitions for this test
// and deletes it when the test ends.
func NewKafka(t testing.TB, partitions int32) *Kafka {
	t.Helper()
	Integration(t)
	brokers := config.SplitList(env("VC_KAFKA_BROKERS", config.DefaultKafkaBrokers))
	admin, err := sarama.NewClusterAdmin(brokers, kafkastore.Config("vidcomments-test"))
	if err != nil {
		missing(t, "Kafka", strings.Join(brokers, ","), err)
	}
	topic := Name("vct")
	if err := admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: 1}, false); err != nil {
		admin.Close()
		t.Fatalf("create topic %s: %v", topic, err)
	}
	t.Cleanup(func() {
		if err := admin.DeleteTopic(topic); err != nil {
			t.Errorf("delete topic %s: %v", topic, err)
		}
		admin.Close()
	})
	waitForLeaders(t, brokers, topic, partitions)
	return &Kafka{Config: config.Kafka{Brokers: brokers, Topic: topic}, Admin: admin}
}

// waitForLeaders returns once every partition of a new topic has a leader
// that answers for it: CreateTopic returns before leader election ends,
// and a consumer or producer that comes too early gets "not the leader".
func waitForLeaders(t testing.TB, brokers []string, topic string, partitions int32) {
	t.Helper()
	client, err := sarama.NewClient(brokers, kafkastore.Config("vidcomments-test"))
	if err != nil {
		t.Fatalf("kafka client: %v", err)
	}
	defer client.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := client.RefreshMetadata(topic)
		if err == nil {
			var ids []int32
			if ids, err = client.Partitions(topic); err == nil && int32(len(ids)) == partitions {
				for _, p := range ids {
					if _, err = client.Leader(topic, p); err != nil {
						break
					}
					if _, err = client.GetOffset(topic, p, sarama.OffsetNewest); err != nil {
						break
					}
				}
			} else if err == nil {
				err = fmt.Errorf("%d of %d partitions", len(ids), partitions)
			}
		}
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic %s has no leader for every partition after 30s: %v", topic, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Cassandra is a private keyspace on the stack's Cassandra, schema applied.
type Cassandra struct {
	Session *gocql.Session // bound to Keyspace
	Config  config.Cassandra
}

// NewCassandra creates a keyspace for this test, applies the schema and drops
// the keyspace when the test ends.
func NewCassandra(t testing.TB) *Cassandra {
	t.Helper()
	Integration(t)
	cfg := config.Cassandra{
		Hosts:       config.SplitList(env("VC_CASSANDRA_HOSTS", config.DefaultCassandraHosts)),
		Keyspace:    Name("vct"),
		RF:          cassandraRF(t), // 1, or the cluster topology's (scripts/cluster up --cassandra)
		Consistency: env("VC_CASSANDRA_CONSISTENCY", "LOCAL_ONE"),
		Timeout:     20 * time.Second, // schema changes on two busy cores are slow
	}
	cluster, err := cassandrastore.Cluster(cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	admin, err := cluster.CreateSession()
	if err != nil {
		missing(t, "Cassandra", strings.Join(cfg.Hosts, ","), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := admin.Query("DROP KEYSPACE IF EXISTS " + cfg.Keyspace).ExecContext(ctx); err != nil {
			t.Errorf("drop keyspace %s: %v", cfg.Keyspace, err)
		}
		admin.Close()
	})
	if err := schema.ApplyCQL(ctx, admin, cfg.Keyspace, cfg.RF); err != nil {
		t.Fatalf("apply CQL schema: %v", err)
	}
	s, err := cassandrastore.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return &Cassandra{Session: s, Config: cfg}
}
