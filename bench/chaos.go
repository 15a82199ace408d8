package main

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"

	"github.com/vidcomments/vidcomments/internal/apiclient"
	"github.com/vidcomments/vidcomments/internal/auth"
	"github.com/vidcomments/vidcomments/internal/config"
	"github.com/vidcomments/vidcomments/internal/inspect"
	"github.com/vidcomments/vidcomments/internal/inspect/cqlsource"
	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/internal/stack"
	"github.com/vidcomments/vidcomments/internal/stores/kafkastore"
	"github.com/vidcomments/vidcomments/internal/stores/mysqlstore"
)

// The components chaos kills: the four services (kill -9, then started
// again), the four servers (scripts/stack restart) and Redis' data
// (chaosFlush: FLUSHALL with everything running).
var (
	chaosServices = []string{"writesvc", "syncer", "cdc", "readsvc"}
	chaosServers  = []string{"mariadb", "redis", "kafka", "cassandra"}
)

// chaosConfig is the configuration of `bench chaos`.
type chaosConfig struct {
	Kills    int
	Every    time.Duration
	Short    bool
	Writers  int
	PostGap  time.Duration
	Readers  int
	Videos   int
	Drain    time.Duration
	RetryFor time.Duration
	StackDir string
	Servers  bool
	Flush    bool          // FLUSHALL is a kill kind
	SQL      int           // plain-SQL writers
	SQLGap   time.Duration // pause of each between two statements
	Out      string
}

// short is the version `make test` runs, under two minutes: each service
// once, Redis and MariaDB, and one FLUSHALL (Kafka and Cassandra take about
// a minute each to restart on a busy two-core machine: only the full run
// restarts them).
func (c *chaosConfig) short() []string {
	return []string{"writesvc", "redis", "syncer", chaosFlush, "mariadb", "cdc", "readsvc"}
}

// plan returns the kill order: rounds over every component, each round
// shuffled, until Kills are planned.
func (c *chaosConfig) plan(r *rand.Rand) []string {
	if c.Short {
		return c.short()
	}
	all := slices.Clone(chaosServices)
	if c.Servers {
		all = append(all, chaosServers...)
	}
	if c.Flush {
		all = append(all, chaosFlush)
	}
	var out []string
	for len(out) < c.Kills {
		round := slices.Clone(all)
		r.Shuffle(len(round), func(i, j int) { round[i], round[j] = round[j], round[i] })
		out = append(out, round...)
	}
	return out[:c.Kills]
}

// chaosRun is one run: the cluster, the service processes, what the load
// saw acknowledged, and what was killed.
type chaosRun struct {
	cfg    chaosConfig
	logger *slog.Logger
	c      *cluster
	root   string
	runID  string
	videos []int64
	client *http.Client
	svcs   map[string]*chaosSvc

	mu          sync.Mutex
	comments    []*tracked         // acknowledged posts and plain-SQL inserts, in that order
	byID        map[int64]*tracked // the same by id
	accepted    int                // posts answered 2xx
	sqlInserted int                // plain-SQL inserts committed
	sql         sqlStats
	kills       map[string]int
	crashes     map[string]int
	losses      map[string]int // Redis data losses cdc recovered from, by cause
	recoverMax  time.Duration  // longest loss → epoch ok again
	jobRuns     float64        // cdc inspector job runs of cdc processes killed since
	jobRepairs  float64        // and their repairs (0: -inspect-repair=false)
	unacked     int            // posts given up without any answer (never acknowledged)
	refused     int            // posts answered 4xx
	modTodo     chan int64
	reads       atomic.Int64
	readFails   atomic.Int64
}

// chaosSvc is one service with fixed addresses, restarted in place.
type chaosSvc struct {
	name, bin  string
	addr       string
	admin      string
	args       []string
	moderation string
	mu         sync.Mutex
	p          *proc
}

func runChaos(ctx context.Context, args []string, w io.Writer) int {
	var cfg chaosConfig
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.IntVar(&cfg.Kills, "kills", 24, "kills and restarts over the eight components (full run)")
	fs.DurationVar(&cfg.Every, "every", 4*time.Second, "pause between two kills")
	fs.BoolVar(&cfg.Short, "short", false, "the short version make test runs: seven kills (each service, Redis, MariaDB, one FLUSHALL)")
	fs.IntVar(&cfg.Writers, "writers", 4, "concurrent posting clients")
	fs.DurationVar(&cfg.PostGap, "post-gap", 100*time.Millisecond, "pause of each writer between two posts")
	fs.IntVar(&cfg.Readers, "readers", 2, "concurrent reading clients")
	fs.IntVar(&cfg.Videos, "videos", 4, "videos the load spreads over")
	fs.DurationVar(&cfg.Drain, "drain-timeout", 3*time.Minute, "how long the pipeline may take to drain and agree after the chaos")
	fs.DurationVar(&cfg.RetryFor, "retry-for", 3*time.Minute, "how long a client retries one request that got no answer")
	fs.BoolVar(&cfg.Servers, "servers", true, "restart the servers too (false: services only)")
	fs.BoolVar(&cfg.Flush, "flushall", true, "FLUSHALL the stack's Redis as one more kill kind (full run; -short always has one)")
	fs.IntVar(&cfg.SQL, "sql-writers", 1, "concurrent plain-SQL writers (DELETE, UPDATE status, UPDATE content, INSERT approved, multi-row UPDATE)")
	fs.DurationVar(&cfg.SQLGap, "sql-gap", 300*time.Millisecond, "pause of each plain-SQL writer between two statements")
	fs.StringVar(&cfg.StackDir, "stack-dir", os.Getenv("VC_STACK_DIR"), "the stack scripts/stack restarts (default: VC_STACK_DIR, else the repository's .stack)")
	fs.StringVar(&cfg.Out, "out", "", "log directory (default bench/out/<time>-chaos)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	res, err := chaos(ctx, logger, cfg)
	if res != nil {
		res.print(w)
	}
	if err != nil {
		logger.Error("chaos failed", "err", err)
		return 2
	}
	if !res.pass() {
		return 1
	}
	return 0
}

// chaosResult is what the run found.
type chaosResult struct {
	Took         time.Duration
	Kills        map[string]int
	Crashes      map[string]int
	Accepted     int
	Unacked      int
	Refused      int
	Lost         int
	Duplicated   int
	ModAcked     int
	ModLost      int
	StaleRead    int
	StaleInspect int
	StaleRedis   int // StaleInspect's Redis kinds (inspect.CacheKinds)
	StaleCass    int // and its Cassandra kinds
	// Redis data losses cdc recovered from (FLUSHALL, restart) and the
	// longest time from the loss to the epoch being ok again.
	Losses     map[string]int
	RecoverMax time.Duration
	// Plain SQL: statements acknowledged, inserts among them, what the
	// removals were (intended, never lost), their end states not in MySQL.
	SQL         sqlStats
	SQLInserted int
	SQLDeleted  int // comments hard-deleted by plain SQL
	SQLRejected int // comments whose last change was a plain-SQL rejection
	SQLLost     int
	Uncertain   int // comments not checked: a plain-SQL statement on them was given up unanswered
	// Missing names what the run was meant to exercise and did not
	// (a harness failure, not a product one).
	Missing []string
	// The cdc inspector job's repairs over the whole run (it runs with
	// -inspect-repair=false, so anything but 0 is a harness fault).
	JobRepairs    float64
	Reads         int64
	ReadFails     int64
	DrainTook     time.Duration
	AgreeTook     time.Duration
	Examples      []string
	InspectByKind map[inspect.Kind]int
	// What cdc's own inspector job (-inspect-every) said last, informative
	// only: its counters restart with cdc. JobRuns < 0: not scraped.
	JobRuns, JobMismatches float64
}

func (r *chaosResult) pass() bool {
	return r.mysqlMismatches() == 0 && r.StaleRead == 0 && r.StaleInspect == 0 && len(r.Missing) == 0 && r.JobRepairs == 0
}

// mysqlMismatches is the MySQL tier: acknowledged posts, moderation actions
// and plain-SQL statements whose end state the system of record lacks,
// and duplicates.
func (r *chaosResult) mysqlMismatches() int { return r.Lost + r.Duplicated + r.ModLost + r.SQLLost }

// countsLine is "total (name n, …)" of m over the services, servers and
// flushes a chaos run kills, in that order; lossesLine the same over m's
// own keys, sorted. Names at 0 are left out; all at 0 is "0".
func countsLine(m map[string]int) string {
	return tallyLine(m, append(append(slices.Clone(chaosServices), chaosServers...), chaosFlush))
}

func lossesLine(m map[string]int) string { return tallyLine(m, slices.Sorted(maps.Keys(m))) }

func tallyLine(m map[string]int, names []string) string {
	var parts []string
	total := 0
	for _, n := range names {
		if m[n] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", n, m[n]))
			total += m[n]
		}
	}
	if total == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (%s)", total, strings.Join(parts, ", "))
}

func sqlLine(m map[string]int) string {
	var parts []string
	total := 0
	for _, k := range sqlKinds {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
		total += m[k]
	}
	return fmt.Sprintf("%d statements (%s)", total, strings.Join(parts, ", "))
}

func (r *chaosResult) print(w io.Writer) {
	fmt.Fprintf(w, "\nchaos finished in %s\n", r.Took.Round(time.Second))
	fmt.Fprintf(w, "  kills               %s\n", countsLine(r.Kills))
	fmt.Fprintf(w, "  unplanned restarts  %s\n", countsLine(r.Crashes))
	fmt.Fprintf(w, "  redis data losses   %s; cdc back to epoch ok after at most %s\n", lossesLine(r.Losses), r.RecoverMax.Round(time.Millisecond))
	fmt.Fprintf(w, "  reads               %d ok, %d failed (during the chaos)\n", r.Reads-r.ReadFails, r.ReadFails)
	fmt.Fprintf(w, "  plain SQL           %s, %d rows; %d given up, %d attempts retried\n", sqlLine(r.SQL.ByKind), r.SQL.Rows, r.SQL.GivenUp, r.SQL.Retries)
	fmt.Fprintf(w, "  drain               outbox empty, consumer lag 0 after %s; read-side checks done %s later\n", r.DrainTook.Round(time.Millisecond), r.AgreeTook.Round(time.Millisecond))
	fmt.Fprintf(w, "  accepted            %d   (POST 2xx; %d given up unanswered, %d refused 4xx) + %d inserted by plain SQL\n", r.Accepted, r.Unacked, r.Refused, r.SQLInserted)
	fmt.Fprintf(w, "  removed by SQL      %d   (intended, not lost: %d deleted, %d rejected)\n", r.SQLDeleted+r.SQLRejected, r.SQLDeleted, r.SQLRejected)
	fmt.Fprintf(w, "  lost                %d\n", r.Lost)
	fmt.Fprintf(w, "  duplicated          %d\n", r.Duplicated)
	fmt.Fprintf(w, "  moderation acked    %d, lost %d\n", r.ModAcked, r.ModLost)
	fmt.Fprintf(w, "  plain SQL lost      %d   (a committed statement's end state not in MySQL; %d comments unchecked after a statement given up)\n", r.SQLLost, r.Uncertain)
	fmt.Fprintf(w, "  stale               %d   (readsvc %d, inspector %d)\n", r.StaleRead+r.StaleInspect, r.StaleRead, r.StaleInspect)
	fmt.Fprintf(w, "  mismatches by tier  mysql %d, cassandra %d, redis %d, readsvc %d\n", r.mysqlMismatches(), r.StaleCass, r.StaleRedis, r.StaleRead)
	if r.JobRuns >= 0 {
		fmt.Fprintf(w, "  cdc inspector job   repair off; %.0f runs, %.0f repairs over the run; its last run counted %.0f mismatches older than its grace\n", r.JobRuns, r.JobRepairs, r.JobMismatches)
	}
	for _, m := range r.Missing {
		fmt.Fprintf(w, "  ! not exercised: %s\n", m)
	}
	if len(r.InspectByKind) > 0 {
		fmt.Fprintf(w, "  inspector kinds     %v\n", r.InspectByKind)
	}
	for i, e := range r.Examples {
		if i == 20 {
			fmt.Fprintf(w, "  … %d more\n", len(r.Examples)-20)
			break
		}
		fmt.Fprintf(w, "  ! %s\n", e)
	}
	verdict := "PASS"
	if !r.pass() {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "RESULT: %s\n", verdict)
}

// chaos runs the whole thing.
func chaos(ctx context.Context, logger *slog.Logger, cfg chaosConfig) (*chaosResult, error) {
	began := time.Now()
	root, err := stack.RepoRoot()
	if err != nil {
		return nil, err
	}
	if cfg.StackDir == "" {
		cfg.StackDir = filepath.Join(root, ".stack")
	}
	if cfg.Servers || cfg.Short || cfg.Flush {
		if err := checkStackDir(cfg.StackDir); err != nil {
			return nil, err
		}
	}
	if cfg.Out == "" {
		cfg.Out = filepath.Join(root, "bench", "out", time.Now().UTC().Format("20060102T150405Z")+"-chaos")
	}
	c, err := newCluster(ctx, logger, filepath.Join(cfg.Out, "logs"))
	if err != nil {
		return nil, err
	}
	r := &chaosRun{cfg: cfg, logger: logger, c: c, root: root, runID: uniqueName("run"),
		client: &http.Client{Timeout: 5 * time.Second}, svcs: map[string]*chaosSvc{},
		byID: map[int64]*tracked{}, kills: map[string]int{}, crashes: map[string]int{}, losses: map[string]int{},
		sql: sqlStats{ByKind: map[string]int{}}, modTodo: make(chan int64, 1<<20)}
	first := 1<<53 + rand.Int64N(1<<50)
	for i := range cfg.Videos {
		r.videos = append(r.videos, first+int64(i))
	}
	defer func() {
		start := time.Now()
		// The services are thrown away: no graceful stop needed.
		for _, p := range c.procs {
			_ = p.cmd.Process.Kill()
		}
		c.stopAll()
		logger.Info("services stopped", "took", time.Since(start).Round(time.Millisecond))
		c.teardown(first, cfg.Videos)
		logger.Info("private storage dropped", "took", time.Since(start).Round(time.Millisecond))
	}()
	if err := r.startServices(ctx); err != nil {
		return nil, err
	}
	res, err := r.run(ctx)
	if res != nil {
		res.Took = time.Since(began)
	}
	return res, err
}

// checkStackDir refuses to restart (or FLUSHALL) servers of a stack other
// than the one the run's storage lives on: the stack directory's env must
// name the MySQL address this process uses, and the same Redis when it
// names one.
func checkStackDir(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "env"))
	if err != nil {
		return fmt.Errorf("stack dir %s: %w (is it a scripts/stack directory?)", dir, err)
	}
	wantMySQL := cmp.Or(os.Getenv("VC_MYSQL_DSN"), config.DefaultMySQLDSN)
	wantRedis := cmp.Or(os.Getenv("VC_REDIS_ADDR"), config.DefaultRedisAddr)
	mysqlOK := false
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VC_MYSQL_DSN="); ok {
			if strings.Trim(v, "'\"") != wantMySQL {
				return fmt.Errorf("stack dir %s runs MySQL %s, but VC_MYSQL_DSN is %s: refusing to restart another stack's servers", dir, v, wantMySQL)
			}
			mysqlOK = true
		}
		if v, ok := strings.CutPrefix(line, "VC_REDIS_ADDR="); ok && strings.Trim(v, "'\"") != wantRedis {
			return fmt.Errorf("stack dir %s runs Redis %s, but VC_REDIS_ADDR is %s: refusing to restart or flush another stack's servers", dir, v, wantRedis)
		}
	}
	if !mysqlOK {
		return fmt.Errorf("stack dir %s: env names no VC_MYSQL_DSN", dir)
	}
	return nil
}

func (r *chaosRun) startServices(ctx context.Context) error {
	addr := func() string {
		a, err := freeAddr()
		if err != nil {
			panic(err)
		}
		return a
	}
	peer := addr()
	defs := []*chaosSvc{
		{name: "syncer", bin: "syncer", admin: addr(), moderation: "pre"},
		{name: "cdc", bin: "cdc", admin: addr(), moderation: "pre",
			args: []string{"-server-id", fmt.Sprint(40000 + rand.IntN(10000)), "-inspect-every", "5s", "-inspect-grace", "30s", "-inspect-repair=false"}},
		{name: "readsvc", bin: "readsvc", admin: addr(), addr: addr(), moderation: "pre", args: []string{"-peer-addr", peer}},
		{name: "writesvc", bin: "writesvc", admin: addr(), addr: addr(), moderation: "pre"},
	}
	for _, s := range defs {
		p, err := r.c.spawn(s.name, s.bin, s.moderation, s.addr, s.admin, s.args...)
		if err != nil {
			return err
		}
		if err := r.c.waitReady(ctx, p, 90*time.Second); err != nil {
			return err
		}
		s.p = p
		r.svcs[s.name] = s
	}
	return nil
}

// kill9 kills a service with SIGKILL and starts it again at once.
func (r *chaosRun) kill9(ctx context.Context, name string) error {
	s := r.svcs[name]
	if name == "cdc" { // its counters die with it
		r.scrapeJob(ctx, true)
	}
	s.mu.Lock()
	_ = s.p.cmd.Process.Kill()
	err := <-s.p.exited
	s.p.exited <- err
	p, err := r.c.spawn(s.name, s.bin, s.moderation, s.addr, s.admin, s.args...)
	if err == nil {
		s.p = p
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	// Not ready in time is no failure of the run: a dependency may be
	// restarting; the supervisor keeps it running.
	if err := r.c.waitReady(ctx, p, 60*time.Second); err != nil {
		r.logger.Warn("service slow to become ready after its kill", "service", name, "err", err)
	}
	return nil
}

// scrapeJob reads cdc's inspector job counters: before a kill (add) they
// are added to the run's, at the end they are returned with them.
func (r *chaosRun) scrapeJob(ctx context.Context, add bool) (runs, repairs, mismatches float64, ok bool) {
	m, err := scrape(ctx, r.client, "http://"+r.svcs["cdc"].admin+"/metrics")
	if err != nil {
		return 0, 0, 0, false
	}
	runs, repairs = m.sum("cdc_inspector_runs_total", "result", "ok"), m.sum("cdc_inspector_repairs_total")
	r.mu.Lock()
	defer r.mu.Unlock()
	if add {
		r.jobRuns += runs
		r.jobRepairs += repairs
	}
	return r.jobRuns + runs, r.jobRepairs + repairs, m.sum("cdc_inspector_mismatches"), true
}

// supervise restarts a service that died by itself (as systemd would),
// until ctx ends.
func (r *chaosRun) supervise(ctx context.Context) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, name := range chaosServices {
			s := r.svcs[name]
			s.mu.Lock()
			select {
			case err := <-s.p.exited:
				s.p.exited <- err
				r.logger.Warn("service exited by itself; restarting", "service", name, "err", err)
				r.mu.Lock()
				r.crashes[name]++
				r.mu.Unlock()
				if p, err := r.c.spawn(s.name, s.bin, s.moderation, s.addr, s.admin, s.args...); err == nil {
					s.p = p
				}
			default:
			}
			s.mu.Unlock()
		}
	}
}

// restartServer restarts one server through scripts/stack.
func (r *chaosRun) restartServer(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(r.root, "scripts", "stack"), "restart", name)
	cmd.Env = append(os.Environ(), "VC_STACK_DIR="+r.cfg.StackDir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("scripts/stack restart %s: %w\n%s", name, err, out)
	}
	return nil
}

func (r *chaosRun) run(ctx context.Context) (*chaosResult, error) {
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	supCtx, stopSup := context.WithCancel(ctx)
	var supWG sync.WaitGroup
	supWG.Add(1)
	go func() { defer supWG.Done(); r.supervise(supCtx) }()
	defer func() { stopSup(); supWG.Wait() }()

	var writers, others sync.WaitGroup
	for i := range r.cfg.Writers {
		writers.Add(1)
		go func() { defer writers.Done(); r.writer(loadCtx, ctx, i) }()
	}
	for i := range r.cfg.SQL {
		writers.Add(1)
		go func() { defer writers.Done(); r.sqlWriter(loadCtx, ctx, i) }()
	}
	for range 2 {
		others.Add(1)
		go func() { defer others.Done(); r.moderator(loadCtx, ctx) }()
	}
	for range r.cfg.Readers {
		others.Add(1)
		go func() { defer others.Done(); r.reader(loadCtx) }()
	}

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	plan := r.cfg.plan(rng)
	r.logger.Info("chaos plan", "kills", len(plan), "order", strings.Join(plan, " "))
	var chaosErr error
	for i, name := range plan {
		if err := sleepCtx(ctx, r.cfg.Every); err != nil {
			chaosErr = err
			break
		}
		start := time.Now()
		var err error
		switch {
		case slices.Contains(chaosServices, name):
			err = r.kill9(ctx, name)
		case name == chaosFlush:
			err = r.flushRedis(ctx)
		default:
			err = r.restartServer(ctx, name)
			if err == nil && name == "redis" { // a restart without persistence is a data loss too
				r.waitEpoch(ctx, "restart")
			}
		}
		if err != nil {
			chaosErr = err
			break
		}
		r.mu.Lock()
		r.kills[name]++
		n := r.accepted
		r.mu.Unlock()
		r.logger.Info("killed and restarted", "n", i+1, "of", len(plan), "component", name, "took", time.Since(start).Round(time.Millisecond), "accepted so far", n)
	}
	// A last stretch of load with everything up, then stop new work; posts
	// and moderation actions in flight finish (or give up after RetryFor).
	_ = sleepCtx(ctx, r.cfg.Every)
	stopLoad()
	writers.Wait()
	others.Wait()
	if chaosErr != nil {
		return nil, chaosErr
	}
	for _, name := range chaosServices {
		s := r.svcs[name]
		s.mu.Lock()
		p := s.p
		s.mu.Unlock()
		if err := r.c.waitReady(ctx, p, 2*time.Minute); err != nil {
			return nil, fmt.Errorf("after the chaos: %w", err)
		}
	}
	res := &chaosResult{Kills: r.kills, Crashes: r.crashes, Reads: r.reads.Load(), ReadFails: r.readFails.Load()}
	r.mu.Lock()
	res.Accepted, res.Unacked, res.Refused, res.SQLInserted = r.accepted, r.unacked, r.refused, r.sqlInserted
	res.SQL, res.Losses, res.RecoverMax = r.sql, r.losses, r.recoverMax
	for _, t := range r.comments {
		if t.Mod != "" {
			res.ModAcked++
		}
	}
	r.mu.Unlock()
	// What the run was meant to exercise (DESIGN.md invariant 5 after a
	// FLUSHALL and plain-SQL removals).
	if r.cfg.Short || r.cfg.Flush {
		if res.Kills[chaosFlush] == 0 {
			res.Missing = append(res.Missing, "no FLUSHALL")
		}
	}
	if r.cfg.SQL > 0 && res.SQL.ByKind["delete"] == 0 {
		res.Missing = append(res.Missing, "no plain-SQL delete committed")
	}
	r.logger.Info("chaos over; waiting for the pipeline to drain", "accepted", res.Accepted)
	drainStart := time.Now()
	deadline := drainStart.Add(r.cfg.Drain)
	if err := r.waitDrained(ctx, deadline); err != nil {
		return res, err
	}
	res.DrainTook = time.Since(drainStart)
	if err := r.checkDurable(ctx, res); err != nil {
		return res, err
	}
	agreeStart := time.Now()
	for {
		if err := r.checkReadSide(ctx, res); err != nil {
			return res, err
		}
		if res.StaleRead+res.StaleInspect == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		r.logger.Info("read side not in agreement yet; checking again", "readsvc", res.StaleRead, "inspector", res.StaleInspect)
		_ = sleepCtx(ctx, 2*time.Second)
	}
	res.AgreeTook = time.Since(agreeStart)
	res.JobRuns = -1
	if runs, repairs, mismatches, ok := r.scrapeJob(ctx, false); ok {
		res.JobRuns, res.JobRepairs, res.JobMismatches = runs, repairs, mismatches
	}
	return res, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d): // collected unfired since Go 1.23: no Stop needed
		return nil
	}
}

// retrying sends one request (send, through the generated client) until
// it gets an answer that is not a 5xx or 429, or retryFor passes; a
// retried POST carries the same Idempotency-Key. It returns the status (0:
// never answered) and body.
func (r *chaosRun) retrying(ctx context.Context, send func(context.Context) (*http.Response, error)) (int, []byte) {
	deadline := time.Now().Add(r.cfg.RetryFor)
	backoff := 100 * time.Millisecond
	for {
		resp, err := send(ctx)
		if err == nil {
			rb, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests {
				return resp.StatusCode, rb
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return 0, nil
		}
		_ = sleepCtx(ctx, backoff)
		backoff = min(2*backoff, time.Second)
	}
}

// writer posts comments until load stops; each post is retried with its
// key until answered (hardCtx bounds the retries).
func (r *chaosRun) writer(load, hardCtx context.Context, i int) {
	user := int64(1000 + i)
	tok, err := auth.Issue(r.c.Secret, auth.Principal{UserID: user, Role: auth.RoleUser}, time.Now(), 24*time.Hour)
	if err != nil {
		r.logger.Error("token", "err", err)
		return
	}
	api := newAPI("http://"+r.svcs["writesvc"].addr, r.client)
	for n := 0; load.Err() == nil; n++ {
		video := r.videos[rand.IntN(len(r.videos))]
		key := fmt.Sprintf("%s-w%d-%d", r.runID, i, n)
		content := fmt.Sprintf("chaos %s writer %d post %d", r.runID, i, n)
		code, body := r.retrying(hardCtx, func(ctx context.Context) (*http.Response, error) {
			return api.PostComment(ctx, apiID(video), &apiclient.PostCommentParams{IdempotencyKey: &key}, apiclient.NewComment{Content: content}, bearer(tok))
		})
		r.mu.Lock()
		switch {
		case code == 0:
			r.unacked++
		case code >= 200 && code < 300:
			var out apiclient.Accepted
			if err := json.Unmarshal(body, &out); err == nil {
				var id int64
				_, _ = fmt.Sscan(out.Id, &id)
				t := &tracked{ID: id, Video: video, Key: key, Posted: content, Content: content, Status: "pending", LastBy: "post"}
				r.comments = append(r.comments, t)
				r.byID[id] = t
				r.accepted++
				r.modTodo <- id
			}
		default:
			r.refused++
			r.logger.Warn("post refused", "code", code, "body", string(body))
		}
		r.mu.Unlock()
		_ = sleepCtx(load, r.cfg.PostGap)
	}
}

// moderator approves about three in four accepted comments and rejects the
// rest; about one approved in six is rejected later. It leaves alone a
// comment plain SQL removed or set the status of, and waits for one a
// statement is changing.
func (r *chaosRun) moderator(load, hardCtx context.Context) {
	tok, err := auth.Issue(r.c.Secret, auth.Principal{UserID: 1, Role: auth.RoleModerator}, time.Now(), 24*time.Hour)
	if err != nil {
		return
	}
	api := newAPI("http://"+r.svcs["writesvc"].addr, r.client)
	for {
		var id int64
		select {
		case <-load.Done():
			return
		case id = <-r.modTodo:
		}
		r.mu.Lock()
		t := r.byID[id]
		if t == nil || t.Gone || t.SQLOwned || t.Uncertain {
			r.mu.Unlock()
			continue
		}
		if t.busy {
			select {
			case r.modTodo <- id:
			default:
			}
			r.mu.Unlock()
			_ = sleepCtx(load, 20*time.Millisecond)
			continue
		}
		t.busy = true
		prev := t.Mod
		r.mu.Unlock()
		action := "approve"
		if prev == "approve" || rand.IntN(4) == 0 {
			action = "reject"
		}
		code, rb := r.retrying(hardCtx, func(ctx context.Context) (*http.Response, error) {
			if action == "reject" {
				return api.RejectComment(ctx, apiID(id), apiclient.RejectCommentJSONRequestBody{Reason: "chaos"}, bearer(tok))
			}
			return api.ApproveComment(ctx, apiID(id), apiclient.OptionalReasonBody{}, bearer(tok))
		})
		r.mu.Lock()
		t.busy = false
		switch {
		case code >= 200 && code < 300:
			t.Mod, t.LastBy, t.StatusUnknown = action, "api", false
			t.Status = map[string]string{"approve": "approved", "reject": "rejected"}[action]
			if action == "approve" && rand.IntN(6) == 0 {
				select {
				case r.modTodo <- id:
				default:
				}
			}
		case code == 0: // applied or not: nobody knows
			t.StatusUnknown = true
		default:
			r.logger.Warn("moderation refused", "id", id, "action", action, "code", code, "body", string(rb))
		}
		r.mu.Unlock()
	}
}

// reader reads first pages and single comments until load stops.
func (r *chaosRun) reader(load context.Context) {
	api := newAPI("http://"+r.svcs["readsvc"].addr, r.client)
	limit := 50
	for load.Err() == nil {
		video := r.videos[rand.IntN(len(r.videos))]
		var comment int64
		r.mu.Lock()
		if n := len(r.comments); n > 0 && rand.IntN(2) == 0 {
			comment = r.comments[rand.IntN(n)].ID
		}
		r.mu.Unlock()
		var resp *http.Response
		var err error
		if comment != 0 {
			resp, err = api.GetComment(load, apiID(comment), nil)
		} else {
			resp, err = api.ListVideoComments(load, apiID(video), &apiclient.ListVideoCommentsParams{Limit: &limit})
		}
		code := 0
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			code = resp.StatusCode
		}
		r.reads.Add(1)
		if code != http.StatusOK && code != http.StatusNotFound {
			r.readFails.Add(1)
			_ = sleepCtx(load, 50*time.Millisecond)
		}
	}
}

// waitDrained waits until the outbox has no unsent row and the syncer's
// consumer group has consumed every message of the topic.
func (r *chaosRun) waitDrained(ctx context.Context, deadline time.Time) error {
	var lastErr error
	for {
		unsent, lag, err := r.backlog(ctx)
		if err == nil && unsent == 0 && lag == 0 {
			return nil
		}
		lastErr = err
		if time.Now().After(deadline) {
			return fmt.Errorf("pipeline did not drain in %v: outbox unsent %d, consumer lag %d (%v)", r.cfg.Drain, unsent, lag, lastErr)
		}
		if err := sleepCtx(ctx, time.Second); err != nil {
			return err
		}
	}
}

func (r *chaosRun) backlog(ctx context.Context) (unsent, lag int64, err error) {
	if err := r.c.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL`).Scan(&unsent); err != nil {
		return -1, -1, err
	}
	client, err := sarama.NewClient(r.c.brokers, kafkastore.Config("vidcomments-chaos"))
	if err != nil {
		return unsent, -1, err
	}
	defer client.Close()
	parts, err := client.Partitions(r.c.Topic)
	if err != nil {
		return unsent, -1, err
	}
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		return unsent, -1, err
	}
	offs, err := admin.ListConsumerGroupOffsets(r.c.Topic+"_syncer", map[string][]int32{r.c.Topic: parts})
	if err != nil {
		return unsent, -1, err
	}
	for _, p := range parts {
		newest, err := client.GetOffset(r.c.Topic, p, sarama.OffsetNewest)
		if err != nil {
			return unsent, -1, err
		}
		committed := int64(0)
		if b := offs.GetBlock(r.c.Topic, p); b != nil && b.Offset >= 0 {
			committed = b.Offset
		}
		lag += max(newest-committed, 0)
	}
	return unsent, lag, nil
}

// mysqlRow is a comment as the checks read it from MySQL.
type mysqlRow struct {
	ID      int64
	Video   int64
	Content string
	Status  string
}

func (r *chaosRun) mysqlRows(ctx context.Context) ([]mysqlRow, error) {
	return mysqlstore.QueryAll(ctx, r.c.DB, func(rows *sql.Rows, m *mysqlRow) error { return rows.Scan(&m.ID, &m.Video, &m.Content, &m.Status) },
		`SELECT id, video_id, content, status FROM comments`)
}

// checkDurable counts lost and duplicated comments, lost moderation
// actions and lost plain-SQL changes: what MySQL, the system of record, must
// hold. A comment plain SQL deleted must be gone and one it rejected must be
// rejected: intended removals, never counted as lost.
func (r *chaosRun) checkDurable(ctx context.Context, res *chaosResult) error {
	rows, err := r.mysqlRows(ctx)
	if err != nil {
		return err
	}
	byID := map[int64]mysqlRow{}
	byContent := map[string]int{}
	for _, m := range rows {
		byID[m.ID] = m
		byContent[m.Content]++
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range r.comments {
		if t.Uncertain {
			res.Uncertain++
			continue
		}
		m, ok := byID[t.ID]
		what := fmt.Sprintf("comment %d (key %s, %q)", t.ID, t.Key, t.Posted)
		if t.BySQL {
			what = fmt.Sprintf("comment %d (plain-SQL insert %q)", t.ID, t.Posted)
		}
		switch {
		case t.Gone:
			res.SQLDeleted++
			if ok {
				res.SQLLost++
				res.Examples = append(res.Examples, fmt.Sprintf("plain SQL lost: %s deleted by plain SQL, MySQL still has it (%s)", what, m.Status))
			}
			continue
		case !ok || m.Video != t.Video:
			if t.BySQL {
				res.SQLLost++
				res.Examples = append(res.Examples, fmt.Sprintf("plain SQL lost: %s committed, not in MySQL", what))
			} else {
				res.Lost++
				res.Examples = append(res.Examples, fmt.Sprintf("lost: %s acknowledged, not in MySQL as posted", what))
			}
			continue
		case m.Content != t.Content && t.EditedBySQL:
			res.SQLLost++
			res.Examples = append(res.Examples, fmt.Sprintf("plain SQL lost: %s edited to %q by plain SQL, MySQL has %q", what, t.Content, m.Content))
		case m.Content != t.Content:
			res.Lost++
			res.Examples = append(res.Examples, fmt.Sprintf("lost: %s acknowledged, MySQL has content %q", what, m.Content))
		}
		if t.LastBy == "sql" && t.Status == "rejected" {
			res.SQLRejected++
		}
		if t.StatusUnknown || m.Status == t.Status {
			continue
		}
		if t.LastBy == "sql" {
			res.SQLLost++
		} else {
			res.ModLost++
		}
		last := map[string]string{"post": "the post (pending)", "api": "moderation " + t.Mod, "sql": "plain SQL"}[t.LastBy]
		res.Examples = append(res.Examples, fmt.Sprintf("%s: %s last acknowledged by %s: want %q, MySQL has %q",
			map[bool]string{true: "plain SQL lost", false: "moderation lost"}[t.LastBy == "sql"], what, last, t.Status, m.Status))
	}
	for content, n := range byContent {
		if n > 1 {
			res.Duplicated += n - 1
			res.Examples = append(res.Examples, fmt.Sprintf("duplicated: %d rows with content %q", n, content))
		}
	}
	return nil
}

// checkReadSide compares readsvc (every comment by id — the ones plain SQL
// deleted included —, every page of every video with its contents and
// total) and the inspector's view of Redis and Cassandra with MySQL.
func (r *chaosRun) checkReadSide(ctx context.Context, res *chaosResult) error {
	start := time.Now()
	res.StaleRead, res.StaleInspect, res.StaleRedis, res.StaleCass, res.InspectByKind = 0, 0, 0, 0, nil
	res.Examples = slices.DeleteFunc(res.Examples, func(s string) bool { return strings.HasPrefix(s, "stale") })
	rows, err := r.mysqlRows(ctx)
	if err != nil {
		return err
	}
	stale := func(format string, args ...any) {
		res.StaleRead++
		res.Examples = append(res.Examples, "stale: "+fmt.Sprintf(format, args...))
	}
	api := newAPI("http://"+r.svcs["readsvc"].addr, r.client)
	approved := map[int64][]int64{}
	content := map[int64]string{}
	inMySQL := map[int64]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for _, m := range rows {
		inMySQL[m.ID] = true
		if m.Status == "approved" {
			approved[m.Video] = append(approved[m.Video], m.ID)
			content[m.ID] = m.Content
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			code, got := 0, (*apiclient.PublicComment)(nil)
			if resp, err := api.GetCommentWithResponse(ctx, apiID(m.ID), nil); err == nil {
				code, got = resp.StatusCode(), resp.JSON200
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case m.Status == "approved" && code != http.StatusOK:
				stale("GET /v1/comments/%d: %d, want 200 (approved)", m.ID, code)
			case m.Status == "approved":
				if got == nil || got.Content != m.Content {
					content := ""
					if got != nil {
						content = got.Content
					}
					stale("GET /v1/comments/%d: content %q, want %q", m.ID, content, m.Content)
				}
			case code != http.StatusNotFound:
				stale("GET /v1/comments/%d: %d, want 404 (%s)", m.ID, code, m.Status)
			}
		}()
	}
	// What plain SQL deleted has no row left: readsvc must not know it.
	r.mu.Lock()
	var gone []int64
	for _, t := range r.comments {
		if t.Gone && !inMySQL[t.ID] {
			gone = append(gone, t.ID)
		}
	}
	r.mu.Unlock()
	for _, id := range gone {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			code := 0
			if resp, err := api.GetCommentWithResponse(ctx, apiID(id), nil); err == nil {
				code = resp.StatusCode()
			}
			mu.Lock()
			defer mu.Unlock()
			if code != http.StatusNotFound {
				stale("GET /v1/comments/%d: %d, want 404 (deleted by plain SQL)", id, code)
			}
		}()
	}
	wg.Wait()
	r.logger.Info("checked every comment through readsvc", "comments", len(rows), "deleted by SQL", len(gone), "took", time.Since(start).Round(time.Millisecond))
	for _, v := range r.videos {
		want := approved[v]
		sort.Slice(want, func(i, j int) bool { return want[i] > want[j] })
		got, total, err := r.walk(ctx, api, v)
		if err != nil {
			stale("video %d pages: %v", v, err)
			continue
		}
		ids := make([]int64, len(got))
		for i, c := range got {
			ids[i] = c.id
		}
		if !slices.Equal(ids, want) {
			stale("video %d pages: %d ids, MySQL has %d approved (first difference at %d)", v, len(ids), len(want), firstDiff(ids, want))
		}
		for _, c := range got {
			if w, ok := content[c.id]; ok && w != c.content {
				stale("video %d pages: comment %d content %q, MySQL has %q", v, c.id, c.content, w)
			}
		}
		if total != int64(len(want)) {
			stale("video %d total %d, MySQL has %d approved", v, total, len(want))
		}
	}
	r.logger.Info("walked every page through readsvc", "videos", len(r.videos), "took", time.Since(start).Round(time.Millisecond))
	in := inspect.New(r.c.DB, pagecache.New(r.c.Redis, pagecache.Options{}), inspect.Options{Cassandra: cqlsource.New(r.c.Session), Lists: true})
	videos, err := in.Videos(ctx)
	if err != nil {
		return err
	}
	var ours []int64
	for _, v := range videos {
		if slices.Contains(r.videos, v) {
			ours = append(ours, v)
		}
	}
	rep, err := in.Run(ctx, ours)
	if err != nil {
		return fmt.Errorf("inspector: %w", err)
	}
	r.logger.Info("inspector run", "videos", len(ours), "mismatches", len(rep.Mismatches), "took", rep.Took.Round(time.Millisecond))
	res.StaleInspect = len(rep.Mismatches)
	res.InspectByKind = inspect.ByKind(rep.Mismatches)
	for _, m := range rep.Mismatches {
		if slices.Contains(inspect.CacheKinds, m.Kind) {
			res.StaleRedis++
		} else {
			res.StaleCass++
		}
		res.Examples = append(res.Examples, "stale (inspector): "+m.String())
	}
	return nil
}

func firstDiff(a, b []int64) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// pageComment is one comment of a page as the checks read it.
type pageComment struct {
	id      int64
	content string
}

// walk reads every page of a video through readsvc and returns its
// comments in order and the first page's total.
func (r *chaosRun) walk(ctx context.Context, api *apiclient.ClientWithResponses, video int64) ([]pageComment, int64, error) {
	var out []pageComment
	var total int64
	cursor := ""
	for pages := 0; pages < 10000; pages++ {
		p, err := fetchPage(ctx, api, video, cursor)
		if err != nil {
			return nil, 0, err
		}
		if pages == 0 {
			total = p.Total
		}
		for _, c := range p.Comments {
			var id int64
			_, _ = fmt.Sscan(c.Id, &id)
			out = append(out, pageComment{id: id, content: c.Content})
		}
		if cursor = p.next(); cursor == "" {
			return out, total, nil
		}
	}
	return nil, 0, errors.New("more than 10000 pages")
}
