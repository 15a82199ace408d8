package main

import "github.com/vidcomments/vidcomments/internal/config"

// Config is writesvc's configuration.
type Config struct {
	config.Process
	Addr  string // public API and moderation listener
	MySQL config.MySQL
	Redis config.Redis
	Kafka config.Kafka
}

// RegisterFlags registers every writesvc flag with its VC_… environment name.
func (c *Config) RegisterFlags(f *config.Flags) {
	c.Process.RegisterFlags(f, "VC_WRITESVC_", config.DefaultWriteAdminAddr)
	f.String(&c.Addr, "addr", "VC_WRITESVC_ADDR", config.DefaultWriteAddr, "public API listen address")
	c.MySQL.RegisterFlags(f)
	c.Redis.RegisterFlags(f)
	c.Kafka.RegisterFlags(f)
}
