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
		Process: configtest.Process("127.0.0.1:9083"),
		MySQL:   configtest.MySQL,
		Redis:   configtest.Redis,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("defaults\n got %+v\nwant %+v", got, want)
	}
}

func TestConfigFromEnv(t *testing.T) {
	var got Config
	configtest.Parse(t, &got, map[string]string{"VC_CDC_ADMIN_ADDR": "0.0.0.0:19083", "VC_MYSQL_DSN": "u:p@tcp(db:3306)/x"})
	if got.AdminAddr != "0.0.0.0:19083" || got.MySQL.DSN != "u:p@tcp(db:3306)/x" {
		t.Errorf("env not applied: %+v", got)
	}
}
