package config

import (
	"fmt"
	"time"
)

// Defaults for the four servers, matching the local stack (scripts/stack).
const (
	DefaultMySQLDSN          = "vidcomments:vidcomments@tcp(127.0.0.1:3306)/vidcomments"
	DefaultMySQLFlavor       = "mariadb"
	DefaultRedisAddr         = "127.0.0.1:6379"
	DefaultKafkaBrokers      = "127.0.0.1:9092"
	DefaultCassandraHosts    = "127.0.0.1:9042"
	DefaultCassandraKeyspace = "vidcomments"
	DefaultCassandraRF       = 1
	DefaultCassandraConsist  = "LOCAL_ONE"
	DefaultDialTimeout       = 5 * time.Second
	DefaultCommentsTopic     = "comments"
)

// MySQL is how a service reaches MySQL/MariaDB.
type MySQL struct {
	DSN    string // go-sql-driver DSN: user:pass@tcp(host:port)/db
	Flavor string // mariadb | mysql (GTID syntax and canal flavor)
}

// RegisterFlags registers -mysql-dsn and -mysql-flavor.
func (c *MySQL) RegisterFlags(f *Flags) {
	f.String(&c.DSN, "mysql-dsn", "VC_MYSQL_DSN", DefaultMySQLDSN, "MySQL/MariaDB DSN")
	f.String(&c.Flavor, "mysql-flavor", "VC_MYSQL_FLAVOR", DefaultMySQLFlavor, "mariadb or mysql")
}

// Validate checks the flavor.
func (c MySQL) Validate() error {
	if c.Flavor != "mariadb" && c.Flavor != "mysql" {
		return fmt.Errorf("mysql-flavor %q: want mariadb or mysql", c.Flavor)
	}
	return nil
}

// Redis is how a service reaches Redis: one address is a single node,
// several are a Redis Cluster (go-redis UniversalClient).
type Redis struct {
	Addrs []string
}

// RegisterFlags registers -redis-addr.
func (c *Redis) RegisterFlags(f *Flags) {
	f.List(&c.Addrs, "redis-addr", "VC_REDIS_ADDR", []string{DefaultRedisAddr}, "Redis address(es)")
}

// Kafka is how a service reaches Kafka.
type Kafka struct {
	Brokers []string
	Topic   string
}

// RegisterFlags registers -kafka-brokers and -kafka-topic.
func (c *Kafka) RegisterFlags(f *Flags) {
	f.List(&c.Brokers, "kafka-brokers", "VC_KAFKA_BROKERS", []string{DefaultKafkaBrokers}, "Kafka bootstrap brokers")
	f.String(&c.Topic, "kafka-topic", "VC_KAFKA_TOPIC", DefaultCommentsTopic, "topic carrying comment events")
}

// Cassandra is how a service reaches Cassandra.
type Cassandra struct {
	Hosts       []string
	Keyspace    string
	RF          int    // replication factor used when the keyspace is created
	Consistency string // LOCAL_ONE, LOCAL_QUORUM, …
	Timeout     time.Duration
}

// RegisterFlags registers the -cassandra-… flags.
func (c *Cassandra) RegisterFlags(f *Flags) {
	f.List(&c.Hosts, "cassandra-hosts", "VC_CASSANDRA_HOSTS", []string{DefaultCassandraHosts}, "Cassandra contact points")
	f.String(&c.Keyspace, "cassandra-keyspace", "VC_CASSANDRA_KEYSPACE", DefaultCassandraKeyspace, "Cassandra keyspace")
	f.Int(&c.RF, "cassandra-rf", "VC_CASSANDRA_RF", DefaultCassandraRF, "replication factor when creating the keyspace")
	f.String(&c.Consistency, "cassandra-consistency", "VC_CASSANDRA_CONSISTENCY", DefaultCassandraConsist, "read/write consistency level")
	f.Duration(&c.Timeout, "cassandra-timeout", "VC_CASSANDRA_TIMEOUT", DefaultDialTimeout, "Cassandra connect and query timeout")
}
