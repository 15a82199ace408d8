// Package cassandrastore opens gocql sessions with the settings every
// vidcomments service shares.
package cassandrastore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/vidcomments/vidcomments/internal/config"
)

// Cluster builds the gocql cluster configuration from cfg; keyspace
// "" leaves the session without a keyspace (schema set-up).
func Cluster(cfg config.Cassandra, keyspace string) (*gocql.ClusterConfig, error) {
	if len(cfg.Hosts) == 0 {
		return nil, errors.New("cassandra: no hosts")
	}
	cons, err := gocql.ParseConsistencyWrapper(cfg.Consistency)
	if err != nil {
		return nil, fmt.Errorf("cassandra consistency: %w", err)
	}
	hosts, port, err := splitHosts(cfg.Hosts)
	if err != nil {
		return nil, err
	}
	c := gocql.NewCluster(hosts...)
	c.Port = port
	c.Keyspace = keyspace
	c.Consistency = cons
	c.Timeout = cfg.Timeout
	c.ConnectTimeout = cfg.Timeout
	c.WriteTimeout = cfg.Timeout
	c.ReconnectInterval = time.Second
	return c, nil
}

// Open opens a session on cfg.Keyspace.
func Open(cfg config.Cassandra) (*gocql.Session, error) {
	c, err := Cluster(cfg, cfg.Keyspace)
	if err != nil {
		return nil, err
	}
	s, err := c.CreateSession()
	if err != nil {
		return nil, fmt.Errorf("cassandra %v keyspace %q: %w", cfg.Hosts, cfg.Keyspace, err)
	}
	return s, nil
}

// Ping runs a real query against the coordinator.
func Ping(ctx context.Context, s *gocql.Session) error {
	var v string
	if err := s.Query("SELECT release_version FROM system.local").ScanContext(ctx, &v); err != nil {
		return fmt.Errorf("cassandra query: %w", err)
	}
	return nil
}

// splitHosts turns "h:p" contact points into gocql's hosts plus one port;
// gocql applies a single port to every host.
func splitHosts(addrs []string) ([]string, int, error) {
	port := config.DefaultCassandraPort
	hosts := make([]string, 0, len(addrs))
	for i, a := range addrs {
		h, p, err := net.SplitHostPort(a)
		if err != nil {
			hosts = append(hosts, a) // bare host, default port
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, 0, fmt.Errorf("cassandra host %q: bad port", a)
		}
		if i > 0 && n != port {
			return nil, 0, fmt.Errorf("cassandra hosts %v: all contact points must share one port", addrs)
		}
		port = n
		hosts = append(hosts, h)
	}
	return hosts, port, nil
}
