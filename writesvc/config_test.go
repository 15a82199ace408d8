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
		Process: configtest.Process("127.0.0.1:9081"),
		Addr:    "127.0.0.1:8081",
		MySQL:   configtest.MySQL,
		Redis:   configtest.Redis,
		Kafka:   configtest.Kafka,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("defaults\n got %+v\nwant %+v", got, want)
	}
}

func TestConfigFromEnv(t *testing.T) {
	var got Config
	configtest.Parse(t, &got, map[string]string{"VC_WRITESVC_ADDR": "0.0.0.0:18081", "VC_MYSQL_FLAVOR": "mysql", "VC_KAFKA_BROKERS": "k1:9092,k2:9092"})
	if got.Addr != "0.0.0.0:18081" || got.MySQL.Flavor != "mysql" || !reflect.DeepEqual(got.Kafka.Brokers, []string{"k1:9092", "k2:9092"}) {
		t.Errorf("env not applied: %+v", got)
	}
}
