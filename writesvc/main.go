// Command writesvc accepts comments, stages them in MySQL with a
// transactional outbox, publishes them to Kafka and serves the moderation
// API. `writesvc token -sub N -role user|moderator` prints a bearer token
// signed with the configured secret. See README.md.
package main

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/vidcomments/vidcomments/internal/auth"
	"github.com/vidcomments/vidcomments/internal/server"
	"github.com/vidcomments/vidcomments/internal/stores/mysqlstore"
	"github.com/vidcomments/vidcomments/internal/stores/redisstore"
	"github.com/vidcomments/vidcomments/writesvc/api"
	"github.com/vidcomments/vidcomments/writesvc/console"
	"github.com/vidcomments/vidcomments/writesvc/nodelease"
	"github.com/vidcomments/vidcomments/writesvc/outbox"
	"github.com/vidcomments/vidcomments/writesvc/ratelimit"
	"github.com/vidcomments/vidcomments/writesvc/store"
	"github.com/vidcomments/vidcomments/writesvc/webhook"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "token" {
		os.Exit(tokenMain(os.Args[2:], os.Stdout, os.Stderr))
	}
	os.Exit(server.Main("writesvc", os.Args[1:], func(ctx context.Context, cfg Config, logger *slog.Logger) (*server.App, error) {
		return build(ctx, cfg, logger, overrides{})
	}))
}

// overrides replace parts of the graph in tests.
type overrides struct {
	producer outbox.ProducerFactory // nil: Kafka at cfg.Kafka.Brokers
	redis    redis.UniversalClient  // nil: Redis at cfg.Redis.Addrs
}

// build opens MySQL and Redis, claims a node number, starts the outbox
// relay and wires the API. Kafka is not needed to start: accepted comments
// wait in the outbox (DESIGN.md failure table).
func build(ctx context.Context, cfg Config, logger *slog.Logger, o overrides) (*server.App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	status, _ := cfg.initialStatus()
	var err error
	reg := prometheus.NewRegistry()
	admin := server.NewAdmin(reg)
	app := server.NewApp("writesvc", logger, admin, cfg.AdminAddr)

	my := cfg.MySQL
	if my.DSN, err = store.TuneDSN(my.DSN); err != nil {
		return nil, err
	}
	db, err := mysqlstore.Open(ctx, my)
	if err != nil {
		return nil, app.Abort(err)
	}
	app.OnClose("mysql", db.Close)
	admin.AddCheck("mysql", db.PingContext)

	rdb := o.redis
	if rdb == nil {
		rdb = redisstore.New(cfg.Redis)
		app.OnClose("redis", rdb.Close)
	}
	if !cfg.RateLimitFailOpen { // failing open, writesvc works without Redis
		admin.AddCheck("redis", func(ctx context.Context) error { return redisstore.Ping(ctx, rdb) })
	}

	lease, err := nodelease.Claim(ctx, db, nodelease.Config{TTL: cfg.NodeLeaseTTL}, logger, reg)
	if err != nil {
		return nil, app.Abort(err)
	}
	lease.Start()
	app.OnClose("node lease", lease.Close)
	admin.AddCheck("node lease", lease.Check)

	producer := o.producer
	if producer == nil {
		producer = outbox.KafkaProducer(cfg.Kafka.Brokers, "writesvc")
	}
	relay, err := outbox.NewRelay(db, producer, outbox.Config{
		Topic: cfg.Kafka.Topic, Batch: cfg.OutboxBatch, Poll: cfg.OutboxPoll,
		MaxBackoff: cfg.OutboxMaxBackoff, Retention: cfg.OutboxRetention,
	}, logger, reg)
	if err != nil {
		return nil, app.Abort(err)
	}
	relay.Start()
	app.OnClose("outbox relay", relay.Close)

	limiter, err := ratelimit.New(rdb, ratelimit.Config{
		PerMinute: cfg.RateLimit, Burst: cfg.RateLimitBurst, FailOpen: cfg.RateLimitFailOpen, Prefix: cfg.RateLimitPrefix,
	}, reg)
	if err != nil {
		return nil, app.Abort(err)
	}
	verifier, err := auth.NewVerifier(cfg.JWTSecret, time.Now)
	if err != nil {
		return nil, app.Abort(err)
	}
	st := store.New(db, lease)
	checker, err := cfg.safetyChecker(st, logger)
	if err != nil {
		return nil, app.Abort(err)
	}
	app.OnClose("content check", checker.Close)
	dispatcher, err := webhook.NewDispatcher(db, webhook.Config{Timeout: cfg.WebhookTimeout, Lease: cfg.WebhookLease, MaxAttempts: cfg.WebhookMaxAttempts,
		MinBackoff: cfg.WebhookMinBackoff, Registry: reg, Logger: logger})
	if err != nil {
		return nil, app.Abort(err)
	}
	dctx, stopDispatch := context.WithCancel(context.Background())
	dispatched := make(chan struct{})
	go func() { dispatcher.Run(dctx); close(dispatched) }()
	app.OnClose("webhook dispatcher", func() error { stopDispatch(); <-dispatched; return nil })

	handler, err := api.New(api.Config{Moderation: status, MaxRunes: cfg.MaxCommentRunes, RequestTimeout: cfg.RequestTimeout,
		EditWindow: cfg.EditWindow, Safety: checker, Webhooks: webhook.NewStore(db), Profiles: st}, st, limiter, relay, verifier, logger, reg)
	if err != nil {
		return nil, app.Abort(err)
	}
	app.AddServer("api", cfg.Addr, withConsole(handler.Handler()))
	return app, nil
}

// withConsole serves the moderation console at /mod/ beside the API.
func withConsole(api http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(console.Prefix, console.Handler())
	mux.Handle("GET /mod", http.RedirectHandler(console.Prefix, http.StatusMovedPermanently))
	mux.Handle("/", api)
	return mux
}
