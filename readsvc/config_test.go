package main

import (
	"reflect"
	"testing"

	"github.com/vidcomments/vidcomments/internal/config/configtest"
)

func TestConfigDefaults(t *testing.T) {
	var got Config
	configtest.Parse(t, &got, nil)
	want := Config{
		Process:   configtest.Process("127.0.0.1:9080"),
		Addr:      "127.0.0.1:8080",
		Redis:     configtest.Redis,
		Cassandra: configtest.Cassandra,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("defaults\n got %+v\nwant %+v", got, want)
	}
}

func TestConfigFromEnv(t *testing.T) {
	var got Config
	configtest.Parse(t, &got, map[string]string{"VC_READSVC_ADDR": "0.0.0.0:18080", "VC_READSVC_ADMIN_ADDR": "0.0.0.0:19080", "VC_CASSANDRA_HOSTS": "a:9042,b:9042"})
	if got.Addr != "0.0.0.0:18080" || got.AdminAddr != "0.0.0.0:19080" || !reflect.DeepEqual(got.Cassandra.Hosts, []string{"a:9042", "b:9042"}) {
		t.Errorf("env not applied: %+v", got)
	}
}
