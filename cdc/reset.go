package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-sql-driver/mysql"

	"github.com/vidcomments/vidcomments/cdc/binlog"
	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/internal/server"
	"github.com/vidcomments/vidcomments/internal/stores/mysqlstore"
	"github.com/vidcomments/vidcomments/internal/stores/redisstore"
)

// resetSubcommand is the recovery command binlog.PurgedError names.
const resetSubcommand = "reset-position"

// resetPositionMain runs `cdc reset-position` and returns the exit code.
func resetPositionMain(args []string) int {
	var cfg Config
	usage := "usage: cdc " + resetSubcommand + " [flags]\n\n" +
		"Recovers from a saved binlog position the server no longer has: saves the\n" +
		"current end of the binlog as cdc's position, then invalidates every cached\n" +
		"video in Redis so readers refill from the read model. Refuses while a cdc\n" +
		"of the database leads (holds the leader lock). Same flags and environment\n" +
		"as cdc:\n\n"
	if code, ok := server.ParseFlags("cdc "+resetSubcommand, usage, args, &cfg, os.Stderr); !ok {
		return code
	}
	logger, err := server.NewLogger(os.Stderr, cfg.LogLevel)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cdc %s: %v\n", resetSubcommand, err)
		return 2
	}
	logger = logger.With("service", "cdc", "command", resetSubcommand)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := resetPosition(ctx, cfg, logger); err != nil {
		logger.Error("reset failed", "err", err)
		return 1
	}
	return 0
}

// resetPosition saves the current binlog end as the position — first, so
// no change after it can be missed — then drops every cached video's pages
// and bumps its version, covering whatever changed while cdc could not
// follow. Overlays are kept: they still guard against a lagging read model.
func resetPosition(ctx context.Context, cfg Config, logger *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	mc, err := mysql.ParseDSN(cfg.MySQL.DSN)
	if err != nil {
		return fmt.Errorf("mysql dsn: %w", err)
	}
	db, err := mysqlstore.Open(ctx, cfg.MySQL)
	if err != nil {
		return err
	}
	defer db.Close()
	lock, err := binlog.TryLock(ctx, db, binlog.LockName(mc.DBName))
	if errors.Is(err, binlog.ErrLockHeld) {
		return fmt.Errorf("a cdc is running for database %s (it holds lock %q): stop every cdc of this database first", mc.DBName, binlog.LockName(mc.DBName))
	}
	if err != nil {
		return err
	}
	defer lock.Release()

	old, had, err := binlog.LoadPosition(ctx, db, binlog.PositionName)
	if err != nil {
		return err
	}
	now, err := binlog.MasterPosition(ctx, db, cfg.MySQL.Flavor)
	if err != nil {
		return err
	}
	if err := lock.SavePosition(ctx, binlog.PositionName, now); err != nil {
		return err
	}
	logger.Info("binlog position reset", "old", old.String(), "had_position", had, "new", now.String())

	rdb := redisstore.New(cfg.Redis)
	defer rdb.Close()
	cache := pagecache.New(rdb, pagecache.Options{Window: cfg.CacheWindow})
	n := 0
	err = cache.ScanVideos(ctx, func(video int64) error {
		if _, err := cache.Invalidate(ctx, video); err != nil {
			return err
		}
		n++
		return nil
	})
	if err != nil {
		return fmt.Errorf("invalidated %d videos, then: %w (the position is already reset: run %s again to finish)", n, err, resetSubcommand)
	}
	logger.Info("every cached video invalidated", "videos", n)
	return nil
}
