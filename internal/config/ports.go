package config

// Default listen addresses of every vidcomments listener, in one place
// (DESIGN.md, "Default ports"). The local stack's server ports live in
// scripts/stack.env; a test keeps the two and docker-compose.yml in step.
const (
	DefaultReadAddr       = "127.0.0.1:8080"
	DefaultReadAdminAddr  = "127.0.0.1:9080"
	DefaultReadPeerAddr   = "127.0.0.1:8090"
	DefaultWriteAddr      = "127.0.0.1:8081"
	DefaultWriteAdminAddr = "127.0.0.1:9081"
	DefaultSyncAdminAddr  = "127.0.0.1:9082"
	DefaultCDCAdminAddr   = "127.0.0.1:9083"

	DefaultMySQLPort     = 3306
	DefaultRedisPort     = 6379
	DefaultKafkaPort     = 9092
	DefaultCassandraPort = 9042
)
