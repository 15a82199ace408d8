package main

import "github.com/vidcomments/vidcomments/internal/config"

// Config is cdc's configuration.
type Config struct {
	config.Process
	MySQL config.MySQL
	Redis config.Redis
}

// RegisterFlags registers every cdc flag with its VC_… environment name.
func (c *Config) RegisterFlags(f *config.Flags) {
	c.Process.RegisterFlags(f, "VC_CDC_", config.DefaultCDCAdminAddr)
	c.MySQL.RegisterFlags(f)
	c.Redis.RegisterFlags(f)
}
