package main

import "testing"

func TestMemoryLimit(t *testing.T) {
	if got, want := memoryLimit(64<<20), int64(64<<20+8<<20+48<<20); got != want {
		t.Errorf("memoryLimit(64 MiB) = %d, want %d", got, want)
	}
	if got := memoryLimit(-1); got != 0 {
		t.Errorf("groupcache off: limit %d, want none", got)
	}
	t.Setenv("GOMEMLIMIT", "1GiB")
	if got := memoryLimit(64 << 20); got != 0 {
		t.Errorf("GOMEMLIMIT set: limit %d, want none (the environment wins)", got)
	}
}
