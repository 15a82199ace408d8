package main

import "github.com/vidcomments/vidcomments/internal/config"

// Config is readsvc's configuration.
type Config struct {
	config.Process
	Addr      string // public API listener
	Redis     config.Redis
	Cassandra config.Cassandra
}

// RegisterFlags registers every readsvc flag with its VC_… environment name.
func (c *Config) RegisterFlags(f *config.Flags) {
	c.Process.RegisterFlags(f, "VC_READSVC_", config.DefaultReadAdminAddr)
	f.String(&c.Addr, "addr", "VC_READSVC_ADDR", config.DefaultReadAddr, "public API listen address")
	c.Redis.RegisterFlags(f)
	c.Cassandra.RegisterFlags(f)
}
