// Package configtest helps the services pin their configuration defaults in
// tests.
package configtest

import (
	"flag"
	"reflect"
	"testing"

	"github.com/vidcomments/vidcomments/internal/config"
)

// Parse registers cfg's flags on a fresh flag set, with env as the only
// environment, and parses args.
func Parse(t testing.TB, cfg interface{ RegisterFlags(*config.Flags) }, env map[string]string, args ...string) {
	t.Helper()
	f := config.NewFlagsEnv(flag.NewFlagSet("test", flag.ContinueOnError), func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
	cfg.RegisterFlags(f)
	if err := f.Parse(args); err != nil {
		t.Fatal(err)
	}
}

// Defaults checks that a configuration parsed with no environment and no
// arguments is exactly want and returns it. With validates, the defaults
// must also pass the configuration's Validate (writesvc's do not: it needs
// a token secret).
func Defaults[T any, P interface {
	*T
	RegisterFlags(*config.Flags)
	Validate() error
}](t testing.TB, want T, validates bool) T {
	t.Helper()
	var got T
	Parse(t, P(&got), nil)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("defaults\n got %+v\nwant %+v", got, want)
	}
	if err := P(&got).Validate(); validates && err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
	return got
}

// Process is the default process configuration with the given admin address.
func Process(admin string) config.Process {
	return config.Process{LogLevel: config.DefaultLogLevel, AdminAddr: admin, ShutdownTimeout: config.DefaultShutdownTimeout}
}

// The dependency defaults, written out so a changed default shows in a diff.
var (
	MySQL     = config.MySQL{DSN: "vidcomments:vidcomments@tcp(127.0.0.1:3306)/vidcomments", Flavor: "mariadb"}
	Redis     = config.Redis{Addrs: []string{"127.0.0.1:6379"}}
	Kafka     = config.Kafka{Brokers: []string{"127.0.0.1:9092"}, Topic: "comments"}
	Cassandra = config.Cassandra{Hosts: []string{"127.0.0.1:9042"}, Keyspace: "vidcomments", RF: 1, Consistency: "LOCAL_ONE", Timeout: config.DefaultDialTimeout}
)
