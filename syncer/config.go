package main

import "github.com/vidcomments/vidcomments/internal/config"

// DefaultGroup is the Kafka consumer group every syncer instance joins.
const DefaultGroup = "vidcomments-syncer"

// Config is the syncer's configuration.
type Config struct {
	config.Process
	Group     string
	Kafka     config.Kafka
	Cassandra config.Cassandra
	Redis     config.Redis
}

// RegisterFlags registers every syncer flag with its VC_… environment name.
func (c *Config) RegisterFlags(f *config.Flags) {
	c.Process.RegisterFlags(f, "VC_SYNCER_", config.DefaultSyncAdminAddr)
	f.String(&c.Group, "group", "VC_SYNCER_GROUP", DefaultGroup, "Kafka consumer group")
	c.Kafka.RegisterFlags(f)
	c.Cassandra.RegisterFlags(f)
	c.Redis.RegisterFlags(f)
}
