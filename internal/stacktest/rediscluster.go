package stacktest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vidcomments/vidcomments/internal/config"
	"github.com/vidcomments/vidcomments/internal/stores/redisstore"
)

// Topology is "cluster" when the tests run against scripts/cluster's
// topology (VC_TOPOLOGY=cluster, from .stack/cluster.env), else "single".
func Topology() string {
	if env("VC_TOPOLOGY", "") == "cluster" {
		return "cluster"
	}
	return "single"
}

// KafkaPartitions is the partition count a test's topic should have:
// VC_KAFKA_PARTITIONS when set (6 in the cluster topology), else def.
func KafkaPartitions(t testing.TB, def int32) int32 {
	t.Helper()
	v := env("VC_KAFKA_PARTITIONS", "")
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil || n < 1 {
		t.Fatalf("VC_KAFKA_PARTITIONS=%q: want a positive number", v)
	}
	return int32(n)
}

// cassandraRF is VC_CASSANDRA_RF when set, else 1.
func cassandraRF(t testing.TB) int {
	t.Helper()
	v := env("VC_CASSANDRA_RF", "1")
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("VC_CASSANDRA_RF=%q: want a positive number", v)
	}
	return n
}

// RedisCluster returns the addresses of a Redis Cluster with three masters
// and a cluster client of it, closed when the test ends. When VC_REDIS_ADDR
// lists several addresses (the cluster topology of scripts/cluster) that
// cluster is used; otherwise the test starts a private one from
// redis-server and redis-cli on free ports, stopped when the test ends, so
// cluster behaviour is tested under `make test` too.
func RedisCluster(t testing.TB) ([]string, redis.UniversalClient) {
	t.Helper()
	Integration(t)
	addrs := config.SplitList(env("VC_REDIS_ADDR", config.DefaultRedisAddr))
	if len(addrs) < 2 {
		addrs = startRedisCluster(t, 3)
	}
	c := redisstore.New(config.Redis{Addrs: addrs})
	t.Cleanup(func() { c.Close() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := clusterReady(c)
		if err == nil {
			return addrs, c
		}
		if time.Now().After(deadline) {
			missing(t, "Redis Cluster", strings.Join(addrs, ","), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// clusterReady is nil once every master says cluster_state:ok.
func clusterReady(c redis.UniversalClient) error {
	cc, ok := c.(*redis.ClusterClient)
	if !ok {
		return fmt.Errorf("not a cluster client: VC_REDIS_ADDR lists one address")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cc.ReloadState(ctx)
	var masters atomic.Int32 // ForEachMaster calls back concurrently
	err := cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		info, err := m.ClusterInfo(ctx).Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "cluster_state:ok") {
			return fmt.Errorf("%s: cluster_state is not ok", m.Options().Addr)
		}
		masters.Add(1)
		return nil
	})
	if err == nil && masters.Load() < 2 {
		err = fmt.Errorf("%d master(s) known", masters.Load())
	}
	return err
}

// startRedisCluster starts n cluster-mode redis-servers in a temporary
// directory and joins them with `redis-cli --cluster create`.
func startRedisCluster(t testing.TB, n int) []string {
	t.Helper()
	server, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server not found (%v): %s", err, StartHint)
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatalf("redis-cli not found (%v): %s", err, StartHint)
	}
	dir := t.TempDir()
	addrs := make([]string, n)
	for i := range addrs {
		addr, bus := FreeAddr(t), FreeAddr(t)
		_, port, _ := net.SplitHostPort(addr)
		_, busPort, _ := net.SplitHostPort(bus)
		d := filepath.Join(dir, port)
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(server, "--port", port, "--bind", "127.0.0.1", "--daemonize", "no",
			"--cluster-enabled", "yes", "--cluster-port", busPort, "--cluster-config-file", filepath.Join(d, "nodes.conf"),
			"--cluster-node-timeout", "5000", "--save", "", "--appendonly", "no", "--dir", d)
		if err := cmd.Start(); err != nil {
			t.Fatalf("start redis-server: %v", err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
		addrs[i] = addr
	}
	for _, a := range addrs {
		c := redis.NewClient(&redis.Options{Addr: a, MaxRetries: -1})
		deadline := time.Now().Add(10 * time.Second)
		for c.Ping(context.Background()).Err() != nil {
			if time.Now().After(deadline) {
				c.Close()
				t.Fatalf("private redis cluster node %s does not answer", a)
			}
			time.Sleep(50 * time.Millisecond)
		}
		c.Close()
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	return addrs
}
