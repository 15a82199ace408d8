package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
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

	"github.com/vidcomments/vidcomments/internal/auth"
	"github.com/vidcomments/vidcomments/internal/config"
	"github.com/vidcomments/vidcomments/internal/inspect"
	"github.com/vidcomments/vidcomments/internal/inspect/cqlsource"
	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/internal/stack"
	"github.com/vidcomments/vidcomments/internal/stores/kafkastore"
)

// The components chaos kills: the four services (kill -9, then started
// again) and the four servers (scripts/stack restart).
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
	Out      string
}

// short is the version `make test` runs, under two minutes: each service
// once, Redis and MariaDB (Kafka and Cassandra take about a minute each to
// restart on a busy two-core machine: only the full run restarts them).
func (c *chaosConfig) short() []string {
	return []string{"writesvc", "redis", "syncer", "mariadb", "cdc", "readsvc"}
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
	var out []string
	for len(out) < c.Kills {
		round := slices.Clone(all)
		r.Shuffle(len(round), func(i, j int) { round[i], round[j] = round[j], round[i] })
		out = append(out, round...)
	}
	return out[:c.Kills]
}

// accepted is a POST that got a 2xx.
type accepted struct {
	ID      int64
	Video   int64
	Key     string
	Content string
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

	mu        sync.Mutex
	accepted  []accepted
	mods      map[int64]string // comment → last acknowledged action
	kills     map[string]int
	crashes   map[string]int
	unacked   int // posts given up without any answer (never acknowledged)
	refused   int // posts answered 4xx
	modTodo   chan int64
	reads     atomic.Int64
	readFails atomic.Int64
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
	fs.BoolVar(&cfg.Short, "short", false, "the short version make test runs: six kills (each service, Redis, MariaDB)")
	fs.IntVar(&cfg.Writers, "writers", 4, "concurrent posting clients")
	fs.DurationVar(&cfg.PostGap, "post-gap", 100*time.Millisecond, "pause of each writer between two posts")
	fs.IntVar(&cfg.Readers, "readers", 2, "concurrent reading clients")
	fs.IntVar(&cfg.Videos, "videos", 4, "videos the load spreads over")
	fs.DurationVar(&cfg.Drain, "drain-timeout", 3*time.Minute, "how long the pipeline may take to drain and agree after the chaos")
	fs.DurationVar(&cfg.RetryFor, "retry-for", 3*time.Minute, "how long a client retries one request that got no answer")
	fs.BoolVar(&cfg.Servers, "servers", true, "restart the servers too (false: services only)")
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
	Took          time.Duration
	Kills         map[string]int
	Crashes       map[string]int
	Accepted      int
	Unacked       int
	Refused       int
	Lost          int
	Duplicated    int
	ModAcked      int
	ModLost       int
	StaleRead     int
	StaleInspect  int
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
	return r.Lost == 0 && r.Duplicated == 0 && r.ModLost == 0 && r.StaleRead == 0 && r.StaleInspect == 0
}

func countsLine(m map[string]int) string {
	var parts []string
	total := 0
	for _, n := range append(slices.Clone(chaosServices), chaosServers...) {
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

func (r *chaosResult) print(w io.Writer) {
	fmt.Fprintf(w, "\nchaos finished in %s\n", r.Took.Round(time.Second))
	fmt.Fprintf(w, "  kills               %s\n", countsLine(r.Kills))
	fmt.Fprintf(w, "  unplanned restarts  %s\n", countsLine(r.Crashes))
	fmt.Fprintf(w, "  reads               %d ok, %d failed (during the chaos)\n", r.Reads-r.ReadFails, r.ReadFails)
	fmt.Fprintf(w, "  drain               outbox empty, consumer lag 0 after %s; read-side checks done %s later\n", r.DrainTook.Round(time.Millisecond), r.AgreeTook.Round(time.Millisecond))
	fmt.Fprintf(w, "  accepted            %d   (POST 2xx; %d given up unanswered, %d refused 4xx)\n", r.Accepted, r.Unacked, r.Refused)
	fmt.Fprintf(w, "  lost                %d\n", r.Lost)
	fmt.Fprintf(w, "  duplicated          %d\n", r.Duplicated)
	fmt.Fprintf(w, "  moderation acked    %d, lost %d\n", r.ModAcked, r.ModLost)
	fmt.Fprintf(w, "  stale               %d   (readsvc %d, inspector %d)\n", r.StaleRead+r.StaleInspect, r.StaleRead, r.StaleInspect)
	if r.JobRuns >= 0 {
		fmt.Fprintf(w, "  cdc inspector job   %.0f runs since cdc's last start; last run counted %.0f mismatches older than its grace\n", r.JobRuns, r.JobMismatches)
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
	if cfg.Servers || cfg.Short {
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
		mods: map[int64]string{}, kills: map[string]int{}, crashes: map[string]int{}, modTodo: make(chan int64, 1<<20)}
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
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := dropVideoKeys(ctx, c.Redis, first, cfg.Videos); err != nil {
			logger.Warn("redis clean-up", "err", err)
		}
		c.Close()
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

// checkStackDir refuses to restart servers of a stack other than the one
// the run's storage lives on: the stack directory's env must name the
// MySQL address this process uses.
func checkStackDir(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "env"))
	if err != nil {
		return fmt.Errorf("stack dir %s: %w (is it a scripts/stack directory?)", dir, err)
	}
	want := envOr("VC_MYSQL_DSN", config.DefaultMySQLDSN)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VC_MYSQL_DSN="); ok {
			if strings.Trim(v, "'\"") == want {
				return nil
			}
			return fmt.Errorf("stack dir %s runs MySQL %s, but VC_MYSQL_DSN is %s: refusing to restart another stack's servers", dir, v, want)
		}
	}
	return fmt.Errorf("stack dir %s: env names no VC_MYSQL_DSN", dir)
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
			args: []string{"-server-id", fmt.Sprint(40000 + rand.IntN(10000)), "-inspect-every", "5s", "-inspect-grace", "30s"}},
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
		if slices.Contains(chaosServices, name) {
			err = r.kill9(ctx, name)
		} else {
			err = r.restartServer(ctx, name)
		}
		if err != nil {
			chaosErr = err
			break
		}
		r.mu.Lock()
		r.kills[name]++
		n := len(r.accepted)
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
	res.Accepted, res.Unacked, res.Refused, res.ModAcked = len(r.accepted), r.unacked, r.refused, len(r.mods)
	r.mu.Unlock()
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
	if m, err := scrape(ctx, r.client, "http://"+r.svcs["cdc"].admin+"/metrics"); err == nil {
		res.JobRuns, res.JobMismatches = m.sum("cdc_inspector_runs_total", "result", "ok"), m.sum("cdc_inspector_mismatches")
	}
	return res, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// retrying sends one request until it gets an answer that is not a 5xx or
// 429, or retryFor passes; a retried POST carries the same
// Idempotency-Key. It returns the status (0: never answered) and body.
func (r *chaosRun) retrying(ctx context.Context, method, u, tok, key string, body any) (int, []byte) {
	b, _ := json.Marshal(body)
	deadline := time.Now().Add(r.cfg.RetryFor)
	backoff := 100 * time.Millisecond
	for {
		req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(b))
		if err != nil {
			return 0, nil
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		resp, err := r.client.Do(req)
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
	base := "http://" + r.svcs["writesvc"].addr
	for n := 0; load.Err() == nil; n++ {
		video := r.videos[rand.IntN(len(r.videos))]
		key := fmt.Sprintf("%s-w%d-%d", r.runID, i, n)
		content := fmt.Sprintf("chaos %s writer %d post %d", r.runID, i, n)
		code, body := r.retrying(hardCtx, http.MethodPost, fmt.Sprintf("%s/v1/videos/%d/comments", base, video), tok, key, map[string]string{"content": content})
		r.mu.Lock()
		switch {
		case code == 0:
			r.unacked++
		case code >= 200 && code < 300:
			var out struct{ ID string }
			if err := json.Unmarshal(body, &out); err == nil {
				var id int64
				_, _ = fmt.Sscan(out.ID, &id)
				r.accepted = append(r.accepted, accepted{ID: id, Video: video, Key: key, Content: content})
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
// rest; about one approved in six is rejected later.
func (r *chaosRun) moderator(load, hardCtx context.Context) {
	tok, err := auth.Issue(r.c.Secret, auth.Principal{UserID: 1, Role: auth.RoleModerator}, time.Now(), 24*time.Hour)
	if err != nil {
		return
	}
	base := "http://" + r.svcs["writesvc"].addr
	for {
		var id int64
		select {
		case <-load.Done():
			return
		case id = <-r.modTodo:
		}
		r.mu.Lock()
		prev := r.mods[id]
		r.mu.Unlock()
		action := "approve"
		if prev == "approve" || rand.IntN(4) == 0 {
			action = "reject"
		}
		body := map[string]string{}
		if action == "reject" {
			body["reason"] = "chaos"
		}
		code, rb := r.retrying(hardCtx, http.MethodPost, fmt.Sprintf("%s/v1/mod/comments/%d:%s", base, id, action), tok, "", body)
		r.mu.Lock()
		switch {
		case code >= 200 && code < 300:
			r.mods[id] = action
			if action == "approve" && rand.IntN(6) == 0 {
				select {
				case r.modTodo <- id:
				default:
				}
			}
		case code != 0:
			r.logger.Warn("moderation refused", "id", id, "action", action, "code", code, "body", string(rb))
		}
		r.mu.Unlock()
	}
}

// reader reads first pages and single comments until load stops.
func (r *chaosRun) reader(load context.Context) {
	base := "http://" + r.svcs["readsvc"].addr
	for load.Err() == nil {
		u := base + firstPage(r.videos[rand.IntN(len(r.videos))])
		r.mu.Lock()
		if n := len(r.accepted); n > 0 && rand.IntN(2) == 0 {
			u = fmt.Sprintf("%s/v1/comments/%d", base, r.accepted[rand.IntN(n)].ID)
		}
		r.mu.Unlock()
		code, _ := get(load, r.client, u)
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
	rows, err := r.c.DB.QueryContext(ctx, `SELECT id, video_id, content, status FROM comments`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []mysqlRow
	for rows.Next() {
		var m mysqlRow
		if err := rows.Scan(&m.ID, &m.Video, &m.Content, &m.Status); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// checkDurable counts lost and duplicated comments and lost moderation
// actions: what MySQL, the system of record, must hold.
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
	for _, a := range r.accepted {
		m, ok := byID[a.ID]
		if !ok || m.Content != a.Content || m.Video != a.Video {
			res.Lost++
			res.Examples = append(res.Examples, fmt.Sprintf("lost: comment %d (key %s, %q) acknowledged, not in MySQL as posted", a.ID, a.Key, a.Content))
		}
	}
	for content, n := range byContent {
		if n > 1 {
			res.Duplicated += n - 1
			res.Examples = append(res.Examples, fmt.Sprintf("duplicated: %d rows with content %q", n, content))
		}
	}
	for id, action := range r.mods {
		want := map[string]string{"approve": "approved", "reject": "rejected"}[action]
		if m, ok := byID[id]; !ok || m.Status != want {
			res.ModLost++
			res.Examples = append(res.Examples, fmt.Sprintf("moderation lost: %s of %d acknowledged, MySQL has %q", action, id, m.Status))
		}
	}
	return nil
}

// checkReadSide compares readsvc (every comment by id, every page of every
// video) and the inspector's view of Redis and Cassandra with MySQL.
func (r *chaosRun) checkReadSide(ctx context.Context, res *chaosResult) error {
	start := time.Now()
	res.StaleRead, res.StaleInspect, res.InspectByKind = 0, 0, nil
	res.Examples = slices.DeleteFunc(res.Examples, func(s string) bool { return strings.HasPrefix(s, "stale") })
	rows, err := r.mysqlRows(ctx)
	if err != nil {
		return err
	}
	stale := func(format string, args ...any) {
		res.StaleRead++
		res.Examples = append(res.Examples, "stale: "+fmt.Sprintf(format, args...))
	}
	base := "http://" + r.svcs["readsvc"].addr
	approved := map[int64][]int64{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for _, m := range rows {
		if m.Status == "approved" {
			approved[m.Video] = append(approved[m.Video], m.ID)
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			code, body := get(ctx, r.client, fmt.Sprintf("%s/v1/comments/%d", base, m.ID))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case m.Status == "approved" && code != http.StatusOK:
				stale("GET /v1/comments/%d: %d, want 200 (approved)", m.ID, code)
			case m.Status == "approved":
				var c struct{ Content string }
				if json.Unmarshal(body, &c) != nil || c.Content != m.Content {
					stale("GET /v1/comments/%d: content %q, want %q", m.ID, c.Content, m.Content)
				}
			case code != http.StatusNotFound:
				stale("GET /v1/comments/%d: %d, want 404 (%s)", m.ID, code, m.Status)
			}
		}()
	}
	wg.Wait()
	r.logger.Info("checked every comment through readsvc", "comments", len(rows), "took", time.Since(start).Round(time.Millisecond))
	for _, v := range r.videos {
		want := approved[v]
		sort.Slice(want, func(i, j int) bool { return want[i] > want[j] })
		got, total, err := r.walk(ctx, base, v)
		if err != nil {
			stale("video %d pages: %v", v, err)
			continue
		}
		if !slices.Equal(got, want) {
			stale("video %d pages: %d ids, MySQL has %d approved (first difference at %d)", v, len(got), len(want), firstDiff(got, want))
		}
		if total != int64(len(want)) {
			stale("video %d total %d, MySQL has %d approved", v, total, len(want))
		}
	}
	r.logger.Info("walked every page through readsvc", "videos", len(r.videos), "took", time.Since(start).Round(time.Millisecond))
	in := inspect.New(r.c.DB, pagecache.New(r.c.Redis, pagecache.Options{}), inspect.Options{Cassandra: cqlsource.New(r.c.Session), Redis: r.c.Redis})
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

// walk reads every page of a video through readsvc and returns its ids in
// order and the first page's total.
func (r *chaosRun) walk(ctx context.Context, base string, video int64) ([]int64, int64, error) {
	var ids []int64
	var total int64
	cursor := ""
	for pages := 0; pages < 10000; pages++ {
		u := base + firstPage(video)
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		p, err := fetchPage(ctx, r.client, u)
		if err != nil {
			return nil, 0, err
		}
		if pages == 0 {
			total = p.Total
		}
		for _, c := range p.Comments {
			var id int64
			_, _ = fmt.Sscan(c.ID, &id)
			ids = append(ids, id)
		}
		if p.NextCursor == "" {
			return ids, total, nil
		}
		cursor = p.NextCursor
	}
	return nil, 0, errors.New("more than 10000 pages")
}
