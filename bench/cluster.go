package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/IBM/sarama"
	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"

	"github.com/vidcomments/vidcomments/internal/config"
	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/internal/stack"
	"github.com/vidcomments/vidcomments/internal/stores/cassandrastore"
	"github.com/vidcomments/vidcomments/internal/stores/kafkastore"
	"github.com/vidcomments/vidcomments/internal/stores/mysqlstore"
	"github.com/vidcomments/vidcomments/internal/stores/redisstore"
	"github.com/vidcomments/vidcomments/schema"
)

// cluster is the product on private storage: its own MySQL database,
// Cassandra keyspace and Kafka topic on the shared stack, and the services
// started as real processes from freshly built binaries.
type cluster struct {
	logger    *slog.Logger
	binDir    string
	logDir    string
	DB        *sql.DB
	MySQL     config.MySQL
	Cass      config.Cassandra
	Session   *gocql.Session
	Redis     redis.UniversalClient
	Topic     string
	brokers   []string
	Secret    string
	CursorKey string
	dbName    string
	adminDSN  string
	procs     []*proc
}

// proc is one service process.
type proc struct {
	Name   string
	Addr   string // API address, if any
	Admin  string
	cmd    *exec.Cmd
	exited chan error
}

func uniqueName(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s_%x_%s", prefix, time.Now().Unix()&0xffffff, hex.EncodeToString(b))
}

// newCluster builds the binaries and creates the private storage.
func newCluster(ctx context.Context, logger *slog.Logger, logDir string) (c *cluster, err error) {
	c = &cluster{logger: logger, logDir: logDir, Secret: "bench-secret-" + uniqueName("s") + "-0123456789abcdef", CursorKey: "bench-cursor-key-0123456789abcdef"}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	root, err := stack.RepoRoot()
	if err != nil {
		return nil, err
	}
	c.binDir = filepath.Join(logDir, "bin")
	start := time.Now()
	build := exec.CommandContext(ctx, "go", "build", "-o", c.binDir+"/", "./writesvc", "./syncer", "./cdc", "./readsvc", "./bench")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build: %w\n%s", err, out)
	}
	logger.Info("built services", "took", time.Since(start).Round(time.Millisecond))

	// MySQL: a private database with the schema.
	mc, err := mysqlstore.Config(cmp.Or(os.Getenv("VC_MYSQL_DSN"), config.DefaultMySQLDSN))
	if err != nil {
		return nil, err
	}
	c.dbName = uniqueName("vcbench")
	c.adminDSN = withDB(mc, "")
	admin, err := mysqlstore.Open(ctx, config.MySQL{DSN: c.adminDSN})
	if err != nil {
		return nil, fmt.Errorf("mysql: %w", err)
	}
	_, err = admin.ExecContext(ctx, "CREATE DATABASE `"+c.dbName+"` CHARACTER SET utf8mb4")
	admin.Close()
	if err != nil {
		c.dbName = ""
		return nil, fmt.Errorf("create database: %w", err)
	}
	c.MySQL = config.MySQL{DSN: withDB(mc, c.dbName), Flavor: cmp.Or(os.Getenv("VC_MYSQL_FLAVOR"), config.DefaultMySQLFlavor)}
	if c.DB, err = mysqlstore.Open(ctx, c.MySQL); err != nil {
		return nil, err
	}
	c.DB.SetMaxOpenConns(16)
	if err := schema.ApplyMySQL(ctx, c.DB); err != nil {
		return nil, fmt.Errorf("mysql schema: %w", err)
	}

	// Cassandra: a private keyspace with the schema.
	c.Cass = config.Cassandra{
		Hosts: config.SplitList(cmp.Or(os.Getenv("VC_CASSANDRA_HOSTS"), config.DefaultCassandraHosts)), Keyspace: uniqueName("vcbench"),
		RF: 1, Consistency: "LOCAL_ONE", Timeout: 20 * time.Second,
	}
	cl, err := cassandrastore.Cluster(c.Cass, "")
	if err != nil {
		return nil, err
	}
	adminS, err := cl.CreateSession()
	if err != nil {
		return nil, fmt.Errorf("cassandra: %w", err)
	}
	err = schema.ApplyCQL(ctx, adminS, c.Cass.Keyspace, c.Cass.RF)
	adminS.Close()
	if err != nil {
		return nil, fmt.Errorf("cql schema: %w", err)
	}
	if c.Session, err = cassandrastore.Open(c.Cass); err != nil {
		return nil, err
	}

	// Kafka: a private topic.
	c.brokers = config.SplitList(cmp.Or(os.Getenv("VC_KAFKA_BROKERS"), config.DefaultKafkaBrokers))
	ka, err := sarama.NewClusterAdmin(c.brokers, kafkastore.Config("vidcomments-bench"))
	if err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	topic := uniqueName("vcbench")
	err = ka.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 3, ReplicationFactor: 1}, false)
	ka.Close()
	if err != nil {
		return nil, fmt.Errorf("create topic: %w", err)
	}
	c.Topic = topic

	c.Redis = redisstore.New(config.Redis{Addrs: config.SplitList(cmp.Or(os.Getenv("VC_REDIS_ADDR"), config.DefaultRedisAddr))})
	logger.Info("private storage ready", "database", c.dbName, "keyspace", c.Cass.Keyspace, "topic", c.Topic, "took", time.Since(start).Round(time.Millisecond))
	return c, nil
}

func withDB(c *mysql.Config, db string) string {
	cc := c.Clone()
	cc.DBName = db
	return cc.FormatDSN()
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// env is what every service gets: the private storage and shared secrets.
func (c *cluster) env(moderation string) []string {
	return append(os.Environ(),
		"VC_MYSQL_DSN="+c.MySQL.DSN,
		"VC_MYSQL_FLAVOR="+c.MySQL.Flavor,
		"VC_CASSANDRA_KEYSPACE="+c.Cass.Keyspace,
		"VC_KAFKA_TOPIC="+c.Topic,
		"VC_SYNCER_GROUP="+c.Topic+"_syncer",
		"VC_JWT_SECRET="+c.Secret,
		"VC_MODERATION="+moderation,
		"VC_CURSOR_KEY="+c.CursorKey,
		"VC_RATE_LIMIT=0",
		"VC_LOG_LEVEL=warn",
	)
}

// start runs binary bin as service name with the cluster's environment,
// an API address when withAddr, and waits until its /readyz answers 200.
func (c *cluster) start(ctx context.Context, name, bin, moderation string, withAddr bool, args ...string) (*proc, error) {
	admin, err := freeAddr()
	if err != nil {
		return nil, err
	}
	var addr string
	if withAddr {
		if addr, err = freeAddr(); err != nil {
			return nil, err
		}
	}
	p, err := c.spawn(name, bin, moderation, addr, admin, args...)
	if err != nil {
		return nil, err
	}
	return p, c.waitReady(ctx, p, 90*time.Second)
}

// spawn starts binary bin as service name on the given admin (and API,
// unless "") address without waiting for it; its log is appended to
// <logDir>/<name>.log, so a restarted process keeps one log.
func (c *cluster) spawn(name, bin, moderation, addr, admin string, args ...string) (*proc, error) {
	p := &proc{Name: name, Admin: admin, Addr: addr, exited: make(chan error, 1)}
	all := []string{"-admin-addr", admin}
	if bin == "bench" { // the bench binary's sub-command comes before its flags
		all = append([]string{args[0]}, all...)
		args = args[1:]
	}
	if addr != "" {
		all = append(all, "-addr", addr)
	}
	all = append(all, args...)
	logPath := filepath.Join(c.logDir, name+".log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	p.cmd = exec.Command(filepath.Join(c.binDir, bin), all...)
	p.cmd.Env = c.env(moderation)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { p.exited <- p.cmd.Wait(); logf.Close() }()
	c.procs = append(c.procs, p)
	return p, nil
}

// waitReady waits until p's /readyz answers 200, p exits or wait passes.
func (c *cluster) waitReady(ctx context.Context, p *proc, wait time.Duration) error {
	name, admin := p.Name, p.Admin
	logPath := filepath.Join(c.logDir, name+".log")
	deadline := time.Now().Add(wait)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case err := <-p.exited:
			p.exited <- err
			return fmt.Errorf("%s exited during start: %v (log %s)", name, err, logPath)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if resp, err := client.Get("http://" + admin + "/readyz"); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				c.logger.Info("service ready", "name", name, "addr", p.Addr, "admin", admin)
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v (log %s)", name, wait, logPath)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends one process: SIGTERM, then SIGKILL after 20 s.
func (p *proc) stop() {
	if p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exited:
		p.exited <- err
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		p.exited <- <-p.exited
	}
}

// stopAll stops the processes, newest first. Stopping twice is harmless.
func (c *cluster) stopAll() {
	for i := len(c.procs) - 1; i >= 0; i-- {
		c.procs[i].stop()
	}
}

// teardown stops the processes, drops the cached pages of the n videos
// from first on from the shared Redis (n 0: nothing was seeded) and closes
// c. The processes stop first, so none writes keys after the clean-up.
func (c *cluster) teardown(first int64, n int) {
	c.stopAll()
	if n > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := pagecache.DropVideos(ctx, c.Redis, first, n); err != nil {
			c.logger.Warn("redis clean-up", "err", err)
		}
	}
	c.Close()
}

// Close stops the processes and drops the private storage.
func (c *cluster) Close() {
	c.stopAll()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var errs []error
	if c.Session != nil {
		c.Session.Close()
	}
	if c.DB != nil {
		c.DB.Close()
	}
	if c.dbName != "" {
		if admin, err := mysqlstore.Open(ctx, config.MySQL{DSN: c.adminDSN}); err == nil {
			_, err = admin.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+c.dbName+"`")
			errs = append(errs, err)
			admin.Close()
		} else {
			errs = append(errs, err)
		}
	}
	if c.Cass.Keyspace != "" {
		if cl, err := cassandrastore.Cluster(c.Cass, ""); err == nil {
			if s, err := cl.CreateSession(); err == nil {
				errs = append(errs, s.Query("DROP KEYSPACE IF EXISTS "+c.Cass.Keyspace).ExecContext(ctx))
				s.Close()
			} else {
				errs = append(errs, err)
			}
		}
	}
	if c.Topic != "" {
		if ka, err := sarama.NewClusterAdmin(c.brokers, kafkastore.Config("vidcomments-bench")); err == nil {
			errs = append(errs, ka.DeleteTopic(c.Topic))
			ka.Close()
		} else {
			errs = append(errs, err)
		}
	}
	if c.Redis != nil {
		c.Redis.Close()
	}
	if err := errors.Join(errs...); err != nil {
		c.logger.Warn("clean-up incomplete", "err", err)
	}
}
