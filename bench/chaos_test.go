package main

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestChaosPlan(t *testing.T) {
	tests := []struct {
		name      string
		cfg       chaosConfig
		n         int
		every     []string // each of these at least min times
		min       int
		forbidden []string
	}{
		{"full run covers every component", chaosConfig{Kills: 24, Servers: true}, 24, append(slices.Clone(chaosServices), chaosServers...), 3, []string{chaosFlush}},
		{"full run with FLUSHALL covers all nine", chaosConfig{Kills: 24, Servers: true, Flush: true}, 24, append(append(slices.Clone(chaosServices), chaosServers...), chaosFlush), 2, nil},
		{"twenty kills reach all eight", chaosConfig{Kills: 20, Servers: true}, 20, append(slices.Clone(chaosServices), chaosServers...), 2, nil},
		{"services only", chaosConfig{Kills: 8, Servers: false}, 8, chaosServices, 2, append(slices.Clone(chaosServers), chaosFlush)},
		{"services and FLUSHALL", chaosConfig{Kills: 10, Servers: false, Flush: true}, 10, append(slices.Clone(chaosServices), chaosFlush), 2, chaosServers},
		{"short: every service, two servers, one FLUSHALL", chaosConfig{Short: true, Kills: 99}, 7, append(slices.Clone(chaosServices), "mariadb", "redis", chaosFlush), 1, []string{"kafka", "cassandra"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plan := tc.cfg.plan(rand.New(rand.NewPCG(1, 2)))
			if len(plan) != tc.n {
				t.Fatalf("plan of %d kills, want %d: %v", len(plan), tc.n, plan)
			}
			count := map[string]int{}
			for _, c := range plan {
				count[c]++
			}
			for _, c := range tc.every {
				if count[c] < tc.min {
					t.Errorf("%s killed %d times, want at least %d: %v", c, count[c], tc.min, plan)
				}
			}
			if tc.cfg.Short && count[chaosFlush] != 1 {
				t.Errorf("short plan has %d FLUSHALLs, want exactly one: %v", count[chaosFlush], plan)
			}
			for _, c := range tc.forbidden {
				if count[c] > 0 {
					t.Errorf("%s in the plan: %v", c, plan)
				}
			}
		})
	}
}

func TestChaosResultPass(t *testing.T) {
	tests := []struct {
		name string
		r    chaosResult
		pass bool
	}{
		{"clean", chaosResult{Accepted: 10, ModAcked: 5}, true},
		{"lost", chaosResult{Lost: 1}, false},
		{"duplicated", chaosResult{Duplicated: 1}, false},
		{"moderation lost", chaosResult{ModLost: 1}, false},
		{"stale through readsvc", chaosResult{StaleRead: 1}, false},
		{"inspector mismatch", chaosResult{StaleInspect: 1}, false},
		{"plain SQL lost", chaosResult{SQLLost: 1}, false},
		{"removed by plain SQL is no loss", chaosResult{Accepted: 10, SQLDeleted: 3, SQLRejected: 2}, true},
		{"not exercised", chaosResult{Missing: []string{"no FLUSHALL"}}, false},
		{"inspector repaired", chaosResult{JobRepairs: 1}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.r.pass(); got != tc.pass {
				t.Errorf("pass() = %v, want %v", got, tc.pass)
			}
		})
	}
}

// chaos restarts only the servers of the stack its storage lives on.
func TestCheckStackDir(t *testing.T) {
	t.Setenv("VC_MYSQL_DSN", "u:p@tcp(127.0.0.1:4306)/x")
	t.Setenv("VC_REDIS_ADDR", "127.0.0.1:7379")
	tests := []struct {
		name string
		env  string // "" writes no env file
		ok   bool
	}{
		{"same MySQL", "VC_MYSQL_DSN='u:p@tcp(127.0.0.1:4306)/x'\nVC_REDIS_ADDR='127.0.0.1:7379'\n", true},
		{"another stack", "VC_MYSQL_DSN='u:p@tcp(127.0.0.1:3306)/x'\n", false},
		{"another stack's Redis", "VC_MYSQL_DSN='u:p@tcp(127.0.0.1:4306)/x'\nVC_REDIS_ADDR='127.0.0.1:6379'\n", false},
		{"no MySQL named", "VC_REDIS_ADDR='127.0.0.1:7379'\n", false},
		{"not a stack directory", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.env != "" {
				if err := os.WriteFile(filepath.Join(dir, "env"), []byte(tc.env), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := checkStackDir(dir); (err == nil) != tc.ok {
				t.Errorf("checkStackDir = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
