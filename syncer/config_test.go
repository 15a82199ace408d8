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
		Process:   configtest.Process("127.0.0.1:9082"),
		Group:     "vidcomments-syncer",
		Kafka:     configtest.Kafka,
		Cassandra: configtest.Cassandra,
		Redis:     configtest.Redis,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("defaults\n got %+v\nwant %+v", got, want)
	}
}

func TestConfigFromEnv(t *testing.T) {
	var got Config
	configtest.Parse(t, &got, map[string]string{"VC_SYNCER_GROUP": "g2", "VC_SYNCER_ADMIN_ADDR": "0.0.0.0:19082"})
	if got.Group != "g2" || got.AdminAddr != "0.0.0.0:19082" {
		t.Errorf("env not applied: %+v", got)
	}
}
