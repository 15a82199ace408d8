package config

import (
	"testing"
	"time"
)

func TestDefault(t *testing.T) {
	n, neg, set := 0, -3, 7
	Default(&n, 5)
	Default(&neg, 5)
	Default(&set, 5)
	d, s := time.Duration(0), ""
	Default(&d, time.Second)
	Default(&s, "x")
	if n != 5 || neg != 5 || set != 7 || d != time.Second || s != "x" {
		t.Errorf("Default: %d %d %d %v %q, want 5 5 7 1s \"x\"", n, neg, set, d, s)
	}
}
