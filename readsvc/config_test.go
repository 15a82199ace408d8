package main

import (
	"reflect"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/config/configtest"
)

func TestConfigDefaults(t *testing.T) {
	configtest.Defaults(t, Config{
		Process:         configtest.Process("127.0.0.1:9080"),
		Addr:            "127.0.0.1:8080",
		PeerAddr:        "127.0.0.1:8090",
		Redis:           configtest.Redis,
		Cassandra:       configtest.Cassandra,
		MySQL:           configtest.MySQL,
		Profiles:        true,
		GroupcacheBytes: 64 << 20,
		Window:          1000,
		MaxAge:          time.Second,
		PageTTL:         10 * time.Minute,
		NegativeTTL:     30 * time.Second,
		MaxInflight:     32,
		FillLease:       2 * time.Second,
		FillWait:        time.Second,
		LoadTimeout:     2 * time.Second,
	}, true)
}

func TestConfigFromEnv(t *testing.T) {
	var got Config
	configtest.Parse(t, &got, map[string]string{
		"VC_READSVC_ADDR": "0.0.0.0:18080", "VC_READSVC_ADMIN_ADDR": "0.0.0.0:19080", "VC_CASSANDRA_HOSTS": "a:9042,b:9042",
		"VC_READSVC_PEERS": "a:8090, b:8090", "VC_READSVC_GROUPCACHE_BYTES": "0", "VC_READSVC_MAX_AGE": "5s", "VC_READSVC_SHARED_MAX_AGE": "30s",
		"VC_CURSOR_KEY": "s3cret", "VC_READSVC_CASSANDRA_MAX_INFLIGHT": "8", "VC_JWT_SECRET": "0123456789abcdef0123456789abcdef",
	})
	if got.Addr != "0.0.0.0:18080" || got.AdminAddr != "0.0.0.0:19080" || !reflect.DeepEqual(got.Cassandra.Hosts, []string{"a:9042", "b:9042"}) ||
		!reflect.DeepEqual(got.Peers, []string{"a:8090", "b:8090"}) || got.GroupcacheBytes != 0 || got.MaxAge != 5*time.Second || got.SharedMaxAge != 30*time.Second ||
		got.CursorKey != "s3cret" || got.MaxInflight != 8 || got.JWTSecret != "0123456789abcdef0123456789abcdef" {
		t.Errorf("env not applied: %+v", got)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := map[string]func(*Config){
		"window 0":           func(c *Config) { c.Window = 0 },
		"max-age under 1s":   func(c *Config) { c.MaxAge = 500 * time.Millisecond },
		"negative cache":     func(c *Config) { c.GroupcacheBytes = -1 },
		"negative s-maxage":  func(c *Config) { c.SharedMaxAge = -time.Second },
		"no Cassandra reads": func(c *Config) { c.MaxInflight = 0 },
		"short jwt secret":   func(c *Config) { c.JWTSecret = "short" },
		"peers, wildcard peer-addr, no peer-url": func(c *Config) {
			c.Peers, c.PeerAddr = []string{"http://10.0.0.1:8090", "http://10.0.0.2:8090"}, "0.0.0.0:8090"
		},
		"peers, port-only peer-addr, no peer-url": func(c *Config) {
			c.Peers, c.PeerAddr = []string{"http://10.0.0.1:8090"}, ":8090"
		},
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			var c Config
			configtest.Parse(t, &c, nil)
			mutate(&c)
			if err := c.Validate(); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func TestPeerURLs(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		self      string
		wantPeers []string
	}{
		{"self from the listen address, added when missing",
			Config{PeerAddr: "10.0.0.1:8090", Peers: []string{"10.0.0.2:8090"}},
			"http://10.0.0.1:8090", []string{"http://10.0.0.1:8090", "http://10.0.0.2:8090"}},
		{"self listed, URLs kept",
			Config{PeerAddr: "0.0.0.0:8090", PeerURL: "http://a:8090/", Peers: []string{"http://a:8090", "b:8090"}},
			"http://a:8090", []string{"http://a:8090", "http://b:8090"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			self, peers := tt.cfg.peerURLs()
			if self != tt.self || !reflect.DeepEqual(peers, tt.wantPeers) {
				t.Errorf("peerURLs = %q %q, want %q %q", self, peers, tt.self, tt.wantPeers)
			}
		})
	}
}
