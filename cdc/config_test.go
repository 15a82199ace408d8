package main

import (
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/config/configtest"
)

func TestConfigDefaults(t *testing.T) {
	configtest.Defaults(t, Config{
		Process:      configtest.Process("127.0.0.1:9083"),
		MySQL:        configtest.MySQL,
		Redis:        configtest.Redis,
		ServerID:     0,
		SaveInterval: time.Second,
		LockWait:     time.Second,
		CacheWindow:  1000,
		// The inspector job is off unless asked for.
		InspectEvery:  0,
		InspectGrace:  30 * time.Second,
		InspectVideos: 100, InspectRepair: true,
		// No CDN unless named; purged again after 150ms and after
		// readsvc's max-age.
		CDNSettle: 150 * time.Millisecond,
		CDNRepeat: time.Second,
	}, true)
}

func TestConfigFromEnv(t *testing.T) {
	var got Config
	configtest.Parse(t, &got, map[string]string{
		"VC_CDC_ADMIN_ADDR": "0.0.0.0:19083", "VC_MYSQL_DSN": "u:p@tcp(db:3306)/x",
		"VC_CDC_SERVER_ID": "4242", "VC_CDC_SAVE_INTERVAL": "250ms", "VC_CDC_LOCK_WAIT": "3s", "VC_CACHE_WINDOW": "500",
		"VC_CDC_INSPECT_EVERY": "1m", "VC_CDC_INSPECT_GRACE": "45s", "VC_CDC_INSPECT_VIDEOS": "7",
		"VC_CDN_PURGE_URLS": "http://127.0.0.1:6081,http://cdn2:6081", "VC_CDN_PURGE_REPEAT": "2s", "VC_CDN_PURGE_SETTLE": "0s",
	})
	if len(got.CDNPurgeURLs) != 2 || got.CDNPurgeURLs[1] != "http://cdn2:6081" || got.CDNRepeat != 2*time.Second || got.CDNSettle != 0 {
		t.Errorf("CDN env not applied: %+v", got)
	}
	if got.InspectEvery != time.Minute || got.InspectGrace != 45*time.Second || got.InspectVideos != 7 {
		t.Errorf("inspector env not applied: %+v", got)
	}
	if got.AdminAddr != "0.0.0.0:19083" || got.MySQL.DSN != "u:p@tcp(db:3306)/x" || got.ServerID != 4242 ||
		got.SaveInterval != 250*time.Millisecond || got.LockWait != 3*time.Second || got.CacheWindow != 500 {
		t.Errorf("env not applied: %+v", got)
	}
	if got.ReplicaServerID() != 4242 {
		t.Errorf("ReplicaServerID = %d, want the flag's 4242", got.ReplicaServerID())
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Config{MySQL: configtest.MySQL, SaveInterval: time.Second, LockWait: time.Second, CacheWindow: 10, InspectVideos: 1}
	tests := []struct {
		name   string
		change func(*Config)
		valid  bool
	}{
		{"defaults", func(*Config) {}, true},
		{"explicit server id", func(c *Config) { c.ServerID = 7 }, true},
		{"negative server id", func(c *Config) { c.ServerID = -1 }, false},
		{"server id beyond uint32", func(c *Config) { c.ServerID = 1 << 32 }, false},
		{"unknown flavor", func(c *Config) { c.MySQL.Flavor = "postgres" }, false},
		{"zero save interval", func(c *Config) { c.SaveInterval = 0 }, false},
		{"sub-second lock wait", func(c *Config) { c.LockWait = 500 * time.Millisecond }, false},
		{"zero window", func(c *Config) { c.CacheWindow = 0 }, false},
		{"inspector on", func(c *Config) { c.InspectEvery = time.Minute }, true},
		{"negative inspect interval", func(c *Config) { c.InspectEvery = -time.Second }, false},
		{"negative inspect grace", func(c *Config) { c.InspectGrace = -time.Second }, false},
		{"zero inspect sample", func(c *Config) { c.InspectVideos = 0 }, false},
		{"a CDN to purge", func(c *Config) { c.CDNPurgeURLs = []string{"http://127.0.0.1:6081"} }, true},
		{"a CDN without a scheme", func(c *Config) { c.CDNPurgeURLs = []string{"127.0.0.1:6081"} }, false},
		{"a negative purge repeat", func(c *Config) { c.CDNRepeat = -time.Second }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.change(&c)
			if err := c.Validate(); (err == nil) != tt.valid {
				t.Errorf("Validate() = %v, want valid=%v", err, tt.valid)
			}
		})
	}
}

func TestDerivedServerIDs(t *testing.T) {
	seen := map[uint32]int{}
	for pid := 1; pid <= 2000; pid++ {
		id := deriveServerID("host-a", pid)
		if id < derivedServerIDBase || id == 0 {
			t.Fatalf("pid %d: derived id %d below %d", pid, id, derivedServerIDBase)
		}
		if other, dup := seen[id]; dup {
			t.Errorf("pids %d and %d derive the same server id %d", other, pid, id)
		}
		seen[id] = pid
	}
	if deriveServerID("host-a", 1) != deriveServerID("host-a", 1) {
		t.Error("derivation is not stable")
	}
	if deriveServerID("host-a", 1) == deriveServerID("host-b", 1) {
		t.Error("two hosts with the same pid derive the same id")
	}
}
