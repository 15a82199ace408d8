package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/vidcomments/vidcomments/bench/report"
)

// runCapacity is `go run ./bench capacity -log FILE -ring DIR`: it reads
// the per-core figures the benchmarks of `make bench-capacity` reported
// (go test -bench output in FILE; the ring run's report.json in DIR) and
// prints docs/capacity.md's tables — the figures, then the sizing
// arithmetic nodes = load / (per-core × cores per node × utilisation) —
// so no figure of the doc is typed by hand.
func runCapacity(args []string, out io.Writer) int {
	fs := flag.NewFlagSet("capacity", flag.ExitOnError)
	logFile := fs.String("log", "", "go test -bench output of the per-core benchmarks")
	ringDir := fs.String("ring", "", "report directory of `go run ./bench ring` (report.json)")
	var s sizing
	fs.Float64Var(&s.Reads, "reads", 300_000, "page reads per second of the hot video")
	fs.Float64Var(&s.Comments, "comments", 10_000, "comments per second")
	fs.Float64Var(&s.Cores, "cores", 16, "cores per node")
	fs.Float64Var(&s.Util, "util", 0.6, "target utilisation")
	fs.Float64Var(&s.RF, "rf", 3, "Cassandra and Kafka replication factor")
	fs.Float64Var(&s.HotKeys, "hot-keys", 3, "page keys of the hot video that draw its reads (pages 1-3)")
	fs.Float64Var(&s.Deep, "deep", 0.01, "share of the hot video's reads past the Redis window (Cassandra)")
	_ = fs.Parse(args)
	if *logFile == "" {
		fmt.Fprintln(os.Stderr, "capacity: -log FILE is required")
		return 2
	}
	f, err := os.Open(*logFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "capacity:", err)
		return 1
	}
	m, err := parseBenchMetrics(f)
	f.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "capacity:", err)
		return 1
	}
	var ring map[string]float64
	if *ringDir != "" {
		if ring, err = ringFigures(*ringDir + "/report.json"); err != nil {
			fmt.Fprintln(os.Stderr, "capacity:", err)
			return 1
		}
	}
	if err := s.write(out, m, ring); err != nil {
		fmt.Fprintln(os.Stderr, "capacity:", err)
		return 1
	}
	return 0
}

// benchLine is a result line of go test -bench: the name (GOMAXPROCS
// suffix dropped), the iterations, then value-unit pairs.
var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(-\d+)?\s+\d+\s+(.*)$`)

// parseBenchMetrics reads every benchmark's reported metrics: name → unit
// → value (the last line of a benchmark wins).
func parseBenchMetrics(r io.Reader) (map[string]map[string]float64, error) {
	out := map[string]map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		g := benchLine.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if g == nil {
			continue
		}
		f := strings.Fields(g[3])
		ms := map[string]float64{}
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("%s: %q is not a value", g[1], f[i])
			}
			ms[f[i+1]] = v
		}
		out[g[1]] = ms
	}
	return out, sc.Err()
}

// ringFigures reads the named figures of a ring report.
func ringFigures(file string) (map[string]float64, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var rep report.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	out := map[string]float64{}
	for _, x := range rep.Extra {
		out[x.Name] = x.Value
	}
	for _, x := range rep.Ratios {
		out[x.Name] = x.Value
	}
	return out, nil
}

// sizing is the load to serve and the node shape.
type sizing struct {
	Reads, Comments, Cores, Util, RF, HotKeys, Deep float64
}

// The benchmarks the figures come from.
const (
	benchTiers  = "BenchmarkTierPerCore"
	benchWrk    = "BenchmarkHotPageWrk"
	benchWrites = "BenchmarkAcceptComments"
	benchSyncer = "BenchmarkSyncerVersusBareLoop/new_comments"
)

func (s sizing) write(w io.Writer, m map[string]map[string]float64, ring map[string]float64) error {
	var missing []string
	get := func(bench, unit string) float64 {
		v, ok := m[bench][unit]
		if !ok || v == 0 {
			missing = append(missing, bench+" "+unit)
			return math.NaN()
		}
		return v
	}
	readsvc := get(benchTiers, "readsvc-pages/cpu-s")
	hit := get(benchTiers, "groupcache-hit-ratio")
	redisReads := get(benchTiers, "redis-reads/cpu-s")
	cassReads := get(benchTiers, "cassandra-reads/cpu-s")
	cassWrites := get(benchSyncer, "syncer_events/cassandra-cpu-s")
	cassBare := get(benchSyncer, "bare_events/cassandra-cpu-s")
	kafkaConsumed := get(benchSyncer, "consumed/kafka-cpu-s")
	kafkaBatch := get(benchSyncer, "published/kafka-cpu-s")
	redisSettled := get(benchSyncer, "settled/redis-cpu-s")
	redisChanges := get(benchTiers, "changes/redis-cpu-s")
	loadsPerChange := get(benchTiers, "loads/change")
	hitUnderChanges := get(benchTiers, "groupcache-hit-ratio-under-changes")
	mysql := get(benchWrites, "accepted/mariadb-cpu-s")
	mysqlBare := get(benchWrites, "inserts/mariadb-cpu-s")
	redisLimiter := get(benchWrites, "accepted/redis-cpu-s")
	kafkaRelay := get(benchWrites, "published/kafka-cpu-s")
	wrkReadsvc, haveWrk := m[benchWrk]["readsvc-req/cpu-s"]

	fmt.Fprintf(w, "### Per-core figures\n\n| tier | figure | per CPU-second of the server process | benchmark |\n| --- | --- | ---: | --- |\n")
	row := func(tier, what string, v float64, bench string) {
		fmt.Fprintf(w, "| %s | %s | %s | `%s` |\n", tier, what, num(v), bench)
	}
	row("readsvc", "hot page hits (every tier, groupcache)", readsvc, benchTiers)
	if haveWrk {
		row("readsvc", "hot page hits, wrk (the HotPageWrk cross-check)", wrkReadsvc, benchWrk)
	}
	fmt.Fprintf(w, "| readsvc | groupcache hit ratio of the hot page, no writes | %.5f | `%s` |\n", hit, benchTiers)
	row("Redis", "page reads (one Lua call each, groupcache off)", redisReads, benchTiers)
	row("Redis", "changes to one video's cache (cdc's Record + the syncer's Settle)", redisChanges, benchTiers)
	fmt.Fprintf(w, "| readsvc | page loads per change, one page key under wrk (the change moves the version) | %.2f | `%s` |\n", loadsPerChange, benchTiers)
	fmt.Fprintf(w, "| readsvc | groupcache hit ratio of that page under changes | %.5f | `%s` |\n", hitUnderChanges, benchTiers)
	row("Redis", "accepted comments (writesvc's rate limiter)", redisLimiter, benchWrites)
	row("Redis", "events settled by the syncer (overlay clean-up)", redisSettled, benchSyncer)
	row("Cassandra", "events applied by the syncer (RF=1)", cassWrites, benchSyncer)
	row("Cassandra", "events, bare gocql loop of the same writes", cassBare, benchSyncer)
	row("Cassandra", "page reads past the Redis window", cassReads, benchTiers)
	row("Kafka", "events published by writesvc's outbox relay", kafkaRelay, benchWrites)
	row("Kafka", "events published in batches (the benchmark's producer)", kafkaBatch, benchSyncer)
	row("Kafka", "events consumed by the syncer group", kafkaConsumed, benchSyncer)
	row("MariaDB", "accepted comments (the whole write path)", mysql, benchWrites)
	row("MariaDB", "bare transactions (BEGIN, INSERT, COMMIT)", mysqlBare, benchWrites)

	if ri, ok := m[benchTiers]["redis-idle-cpu-s/s"]; ok {
		fmt.Fprintf(w, "\nBackground, with no load from the benchmark (%s, before its modes): redis-server %.3f, Cassandra %.3f CPU-seconds per second. The figures are not corrected for it.\n",
			benchTiers, ri, m[benchTiers]["cassandra-idle-cpu-s/s"])
	}

	// Sizing.
	node := s.Cores * s.Util // usable cores per node
	fmt.Fprintf(w, "\n### Sizing: %s page reads/s on one video, %s comments/s\n\n", num(s.Reads), num(s.Comments))
	fmt.Fprintf(w, "Nodes of %.0f cores at %.0f%% utilisation (%.1f usable cores each); cores = load / per-core figure; nodes = ⌈cores / %.1f⌉.\n\n", s.Cores, 100*s.Util, node, node)
	fmt.Fprintf(w, "| tier | load | per-core | cores | nodes | note |\n| --- | ---: | ---: | ---: | ---: | --- |\n")
	size := func(tier string, load, perCore float64, note string) float64 {
		cores := load / perCore
		fmt.Fprintf(w, "| %s | %s/s | %s | %.1f | %s | %s |\n", tier, num(load), num(perCore), cores, nodes(cores, node, 1), note)
		return cores
	}
	rf := int(s.RF)
	shard := func(tier string, load, perCore float64, note string) float64 {
		cores := load / perCore
		fmt.Fprintf(w, "| %s | %s/s | %s | %.2f | one shard | %s |\n", tier, num(load), num(perCore), cores, note)
		return cores
	}
	size("readsvc", s.Reads, readsvc, "groupcache hits, one instance's figure; the ring's cost below")
	if v, ok := ring["requests per HAProxy CPU-second, HAProxy → 3 readsvc (ring)"]; ok {
		size("HAProxy (front door)", s.Reads, v, "measured in the ring run")
	}
	missReads := s.Reads * (1 - hit)
	hotShard := shard("Redis, the hot video's shard: groupcache misses, no writes", missReads, redisReads, "(1 − hit ratio) × reads; one shard, one thread")
	edits := shard("Redis, the hot video's shard: every comment a visible change of it", s.Comments, redisChanges, "cdc's Record + the syncer's Settle per change (upper bound: all comments on the hot video)")
	reloads := shard("Redis, the hot video's shard: page reloads after those changes", s.Comments*s.HotKeys*loadsPerChange, redisReads, fmt.Sprintf("changes × %.0f hot page keys × measured loads per change", s.HotKeys))
	limiter := s.Comments / redisLimiter
	fmt.Fprintf(w, "| Redis, rate limiter (keys per user, spread over shards) | %s/s | %s | %.1f | %s | scales with shards; a Redis Cluster has at least 3 masters |\n", num(s.Comments), num(redisLimiter), limiter, nodes(limiter, node, 3))
	cassW := s.Comments * s.RF / cassWrites
	cassR := s.Reads * s.Deep * math.Ceil((s.RF+1)/2) / cassReads
	fmt.Fprintf(w, "| Cassandra writes (RF=%.0f) | %s/s | %s | %.1f | — | each replica does the write work |\n", s.RF, num(s.Comments*s.RF), num(cassWrites), cassW)
	fmt.Fprintf(w, "| Cassandra reads past the window (%.0f%% of the reads, LOCAL_QUORUM) | %s/s | %s | %.1f | — | a quorum read asks %.0f replicas |\n", 100*s.Deep, num(s.Reads*s.Deep*math.Ceil((s.RF+1)/2)), num(cassReads), cassR, math.Ceil((s.RF+1)/2))
	fmt.Fprintf(w, "| Cassandra, writes + reads | | | %.1f | %s | at least RF = %d nodes |\n", cassW+cassR, nodes(cassW+cassR, node, rf), rf)
	kafkaCores := s.Comments*s.RF/kafkaRelay + s.Comments/kafkaConsumed
	fmt.Fprintf(w, "| Kafka (RF=%.0f) | %s/s in, %s/s out | %s in, %s out | %.1f | %s | produce cost × RF (followers fetch and write the same bytes); consumed once |\n",
		s.RF, num(s.Comments), num(s.Comments), num(kafkaRelay), num(kafkaConsumed), kafkaCores, nodes(kafkaCores, node, rf))
	primary := s.Comments / mysql
	fmt.Fprintf(w, "| MariaDB primary | %s/s | %s | %.1f | 1 | one writer: a single node must carry it (%.0f%% of %.0f cores) |\n", num(s.Comments), num(mysql), primary, 100*primary/s.Cores, s.Cores)

	// What saturates first: the resources that cannot be split — the hot
	// video's Redis shard (one thread) and the MySQL primary (one node).
	fmt.Fprintf(w, "\n### Single-lane resources (cannot add nodes)\n\n| resource | needs | has | utilisation |\n| --- | ---: | ---: | ---: |\n")
	first, worst := "", 0.0
	lane := func(name string, need, have float64) {
		u := need / have
		fmt.Fprintf(w, "| %s | %.2f cores | %.1f cores | %.0f%% |\n", name, need, have, 100*u)
		if u > worst {
			first, worst = name, u
		}
	}
	lane("the hot video's Redis shard (one thread), reads, no writes", hotShard, 1)
	lane("the hot video's Redis shard (one thread), every comment a visible change of the hot video", hotShard+edits+reloads, 1)
	lane(fmt.Sprintf("MariaDB primary (one node of %.0f cores)", s.Cores), primary, s.Cores)
	fmt.Fprintf(w, "\nHighest: %s at %.0f%% (target %.0f%%).\n", first, 100*worst, 100*s.Util)
	perChange := 1/redisChanges + s.HotKeys*loadsPerChange/redisReads // core-seconds of the hot shard per change
	fmt.Fprintf(w, "At %.0f%% of its one thread the hot video's shard takes %s visible changes/s of that video (each costs %.0f µs of Redis CPU: the edit and settle, %.0f page reloads × %.2f); the MariaDB primary takes %s comments/s at %.0f%% of %.0f cores.\n",
		100*s.Util, num(s.Util/perChange), 1e6*perChange, s.HotKeys, loadsPerChange, num(mysql*s.Cores*s.Util), 100*s.Util, s.Cores)

	if ring != nil {
		fmt.Fprintf(w, "\n### Checked on the cluster topology (`go run ./bench ring`)\n\n| figure | value |\n| --- | ---: |\n")
		for _, name := range []string{
			"hot page through wrk (median of 3), null server",
			"hot page through wrk (median of 3), 1 readsvc, direct",
			"hot page through wrk (median of 3), HAProxy → 1 readsvc",
			"hot page through wrk (median of 3), HAProxy → 3 readsvc (ring)",
			"pages per readsvc CPU-second (all instances serving), 1 readsvc, direct",
			"pages per readsvc CPU-second (all instances serving), HAProxy → 1 readsvc",
			"pages per readsvc CPU-second (all instances serving), HAProxy → 3 readsvc (ring)",
			"requests per HAProxy CPU-second, HAProxy → 1 readsvc",
			"requests per HAProxy CPU-second, HAProxy → 3 readsvc (ring)",
			"HAProxy: the proxy hop, HAProxy → 1 readsvc / 1 readsvc direct",
			"HAProxy: 3 readsvc behind HAProxy / 1 readsvc direct",
		} {
			v, ok := ring[name]
			if !ok {
				missing = append(missing, "ring: "+name)
				continue
			}
			fmt.Fprintf(w, "| %s | %s |\n", name, num(v))
		}
		direct := ring["pages per readsvc CPU-second (all instances serving), 1 readsvc, direct"]
		inRing := ring["pages per readsvc CPU-second (all instances serving), HAProxy → 3 readsvc (ring)"]
		if direct > 0 && inRing > 0 {
			cost := direct / inRing
			fmt.Fprintf(w, "\nIn the ring a page costs %.2f× the readsvc CPU of a page served directly (peer fetches of pages another instance owns); readsvc sized with the ring's figure: %.1f cores, %s nodes.\n",
				cost, s.Reads/inRing, nodes(s.Reads/inRing, node, 1))
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(w, "\nMissing from this run (not measured, nothing assumed in their place): %s\n", strings.Join(missing, "; "))
	}
	return nil
}

// nodes is ⌈cores / perNode⌉ as text, and no fewer than least.
func nodes(cores, perNode float64, least int) string {
	if math.IsNaN(cores) {
		return "?"
	}
	return strconv.Itoa(max(least, int(math.Ceil(cores/perNode))))
}

// num prints a figure with thousands separators, no decimals (two below
// ten).
func num(v float64) string {
	if math.IsNaN(v) {
		return "not measured"
	}
	if math.Abs(v) < 10 {
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	s := strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
