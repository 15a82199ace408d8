// Package binlog is cdc's binlog listener: one active process per database
// (a MySQL user lock), following the comments table through go-mysql canal
// from the saved position, recording every row change in the Redis page
// cache, and saving the position only after those edits are done.
//
// Goroutines: canal runs the replication stream and calls the handler, which
// maps row images (package rowmap) and hands them, in order, over a typed
// channel to the applier — the one goroutine that edits Redis and decides
// when a position may be saved (only once every change before it is in
// Redis). The position writer saves it on the lock's connection, off the
// path of the Redis edits. The listener's own goroutine takes the lock,
// leads, and stands by again when it loses it.
//
// Leadership and its one race: the lock lives on a dedicated MySQL
// connection. If that connection drops (process killed, network cut, KILL),
// MySQL releases the lock at once and a standby takes over. The old leader
// may not know yet: it learns when its next fenced statement fails — the
// position writer proves the lock (IS_USED_LOCK = CONNECTION_ID) whenever it
// has been idle for a save interval, and every position save is fenced in
// the same statement — and then stops canal before doing anything else. Until then, for at most
// about one save interval plus a statement timeout, both may record the same
// changes in Redis; that is harmless because every Record is idempotent and
// versioned (a change at or below the version already recorded or settled is
// skipped), and the old leader can no longer save a position.
package binlog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/go-mysql-org/go-mysql/canal"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-sql-driver/mysql"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vidcomments/vidcomments/cdc/rowmap"
	"github.com/vidcomments/vidcomments/internal/config"
)

// Defaults of Config.
const (
	DefaultSaveInterval = time.Second
	DefaultLockWait     = time.Second
	DefaultDrainTimeout = 5 * time.Second
	// workQueue is how far canal may read ahead of the Redis edits.
	workQueue = 1024
	// heartbeat keeps an idle stream alive; readTimeout notices a dead one.
	heartbeat   = 2 * time.Second
	readTimeout = 10 * time.Second
)

// ResetCommand is the recovery command named when the saved position is
// unusable.
const ResetCommand = "cdc reset-position"

// PurgedError means the saved position cannot be resumed from: its binlog is
// gone (purged or expired), or the server does not know it. Changes since
// then are lost to cdc, so cached pages may be stale; an operator must run
// ResetCommand, which saves the current position and invalidates every
// cached video.
type PurgedError struct {
	Pos    Position
	Reason string
}

func (e *PurgedError) Error() string {
	return fmt.Sprintf("saved binlog position %s cannot be resumed: %s. Changes since then are lost to cdc and cached pages may be stale. "+
		"Recover: stop every cdc of this database, run `%s` with the same flags/environment "+
		"(it saves the current binlog position and invalidates every cached video), then start cdc again", e.Pos, e.Reason, ResetCommand)
}

// Config configures a Listener.
type Config struct {
	MySQL        config.MySQL // DSN with the database to follow, and the flavor
	ServerID     uint32       // replica server id: unique among the server's replicas
	SaveInterval time.Duration
	LockWait     time.Duration // one GET_LOCK attempt's wait
	DrainTimeout time.Duration // how long Close waits for queued Redis edits
	Logger       *slog.Logger
	Registry     prometheus.Registerer
	// Profiles, when set, is told of every users and user_bans row change
	// (internal/profiles.Refresher); nil: those tables are not followed.
	Profiles ProfileRefresher
}

// ProfileRefresher brings the copies of users' profiles up to date.
type ProfileRefresher interface {
	Refresh(ctx context.Context, users []int64) error
}

// Listener follows the binlog while it holds the leader lock.
type Listener struct {
	cfg      Config
	db       *sql.DB
	cache    Cache
	addr     string
	user     string
	password string
	database string
	lockName string
	m        *metrics
	log      *slog.Logger

	errc   chan error
	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a Listener over db (a pool on the followed database) and the
// page cache. Start it; Close stops it.
func New(cfg Config, db *sql.DB, cache Cache) (*Listener, error) {
	mc, err := mysql.ParseDSN(cfg.MySQL.DSN)
	if err != nil {
		return nil, fmt.Errorf("mysql dsn: %w", err)
	}
	if mc.DBName == "" {
		return nil, errors.New("mysql dsn names no database: cdc follows one database's comments table")
	}
	if cfg.ServerID == 0 {
		return nil, errors.New("server id 0: cdc needs a replica server id")
	}
	if cfg.SaveInterval <= 0 {
		cfg.SaveInterval = DefaultSaveInterval
	}
	if cfg.LockWait < time.Second {
		cfg.LockWait = DefaultLockWait // GET_LOCK waits whole seconds
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = DefaultDrainTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	return &Listener{
		cfg: cfg, db: db, cache: cache,
		addr: mc.Addr, user: mc.User, password: mc.Passwd, database: mc.DBName,
		lockName: LockName(mc.DBName),
		m:        newMetrics(cfg.Registry),
		log:      cfg.Logger.With("component", "binlog"),
		errc:     make(chan error, 1),
		done:     make(chan struct{}),
	}, nil
}

// Start begins standing by for the lock, and leading once it holds it.
func (l *Listener) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	go l.run(ctx)
}

// Err delivers the error that stopped the listener for good: a *PurgedError.
func (l *Listener) Err() <-chan error { return l.errc }

// Close stops following (queued edits are applied and the position saved,
// within DrainTimeout), releases the lock and waits.
func (l *Listener) Close() error {
	if l.cancel == nil {
		return nil
	}
	l.cancel()
	<-l.done
	return nil
}

func (l *Listener) run(ctx context.Context) {
	defer close(l.done)
	for {
		lock, err := AcquireLock(ctx, l.db, l.lockName, l.cfg.LockWait, func() {
			l.log.Info("standing by: another cdc holds the leader lock", "lock", l.lockName)
		})
		if err != nil {
			return // ctx done
		}
		l.m.leader.Set(1)
		l.m.leaderAcquired.Inc()
		l.log.Info("leading: this process follows the binlog", "lock", l.lockName, "lock_connection_id", lock.ConnectionID(), "server_id", l.cfg.ServerID)
		err = l.lead(ctx, lock)
		lock.Release()
		l.m.leader.Set(0)
		if ctx.Err() != nil {
			l.log.Info("stopped leading", "err", err)
			return
		}
		var purged *PurgedError
		if errors.As(err, &purged) {
			l.errc <- err
			return
		}
		l.log.Warn("stopped leading; standing by again", "err", err)
		if sleepCtx(ctx, l.cfg.LockWait) != nil {
			return
		}
	}
}

// lead follows the binlog from the saved position until ctx is done, the
// lock is lost, or the stream fails.
func (l *Listener) lead(ctx context.Context, lock *Lock) error {
	start, err := l.startPosition(ctx, lock)
	if err != nil {
		return err
	}
	var gset gomysql.GTIDSet
	if start.GTID != "" {
		if gset, err = gomysql.ParseGTIDSet(l.cfg.MySQL.Flavor, start.GTID); err != nil {
			return &PurgedError{Pos: start, Reason: fmt.Sprintf("gtid_set does not parse as %s: %v", l.cfg.MySQL.Flavor, err)}
		}
	}
	c, err := canal.NewCanal(l.canalConfig())
	if err != nil {
		return fmt.Errorf("canal: %w", err)
	}
	// Load the table's columns now rather than on the first row event, so a
	// new leader's first change is as fast as the rest.
	if _, err := c.GetTable(l.database, rowmap.Table); err != nil {
		c.Close()
		return fmt.Errorf("read the columns of %s.%s: %w", l.database, rowmap.Table, err)
	}
	queue := make(chan work, workQueue)
	quit := make(chan struct{})
	c.SetEventHandler(&handler{work: queue, quit: quit, log: l.log})
	actx, acancel := context.WithCancel(context.Background())
	defer acancel()
	writer := startPositionWriter(actx, lock, l.cfg.SaveInterval, l.m, l.log)
	a := newApplier(l.cache, writer, start, l.cfg.SaveInterval, l.m, l.log)
	a.profiles = l.cfg.Profiles
	if ec, ok := l.cache.(EpochCache); ok {
		a.guard = &redisRecovery{cache: ec, db: l.db, flavor: l.cfg.MySQL.Flavor, m: l.m, log: l.log}
	}
	applied := make(chan error, 1)
	go func() { applied <- a.run(actx, queue) }()
	ran := make(chan error, 1)
	go func() {
		if gset != nil {
			ran <- c.StartFromGTID(gset)
			return
		}
		ran <- c.RunFrom(gomysql.Position{Name: start.File, Pos: start.Offset})
	}()
	l.log.Info("following the binlog", "from", start.String(), "table", l.database+"."+rowmap.Table)

	select {
	case <-ctx.Done():
	case err = <-ran:
		ran = nil
		err = streamError(err, start)
	case err = <-applied:
		applied = nil
	case <-writer.failed():
		// The lock is gone (or MySQL with it): stop editing at once, even
		// an edit waiting for Redis, rather than drain.
		err = writer.err()
		acancel()
	}
	close(quit) // canal's goroutine may wait on a full queue
	c.Close()
	if ran != nil {
		if rerr := <-ran; err == nil && ctx.Err() == nil {
			err = streamError(rerr, start)
		}
	}
	close(queue) // canal has stopped: nothing sends any more
	drain := time.AfterFunc(l.cfg.DrainTimeout, acancel)
	defer drain.Stop()
	if applied != nil {
		if aerr := <-applied; err == nil {
			err = aerr
		}
	}
	// The writer saves the applier's last position, then stops.
	if werr := writer.close(); err == nil {
		err = werr
	}
	return err
}

// streamError classifies the error that ended canal's run.
func streamError(err error, start Position) error {
	if err == nil {
		return errors.New("binlog stream ended")
	}
	var me *gomysql.MyError
	if errors.As(err, &me) && me.Code == gomysql.ER_MASTER_FATAL_ERROR_READING_BINLOG {
		return &PurgedError{Pos: start, Reason: fmt.Sprintf("the server refused to send it (error %d: %s)", me.Code, me.Message)}
	}
	return fmt.Errorf("binlog stream: %w", err)
}

// startPosition is the saved position, or, the first time, the current end
// of the binlog — saved at once, so a restart never skips what came between.
func (l *Listener) startPosition(ctx context.Context, lock *Lock) (Position, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*statementTimeout)
	defer cancel()
	p, ok, err := LoadPosition(ctx, l.db, PositionName)
	if err != nil {
		return Position{}, err
	}
	if !ok {
		if p, err = MasterPosition(ctx, l.db, l.cfg.MySQL.Flavor); err != nil {
			return Position{}, err
		}
		if err := lock.SavePosition(ctx, PositionName, p); err != nil {
			return Position{}, err
		}
		l.log.Info("no saved binlog position: starting at the current end of the binlog (caches fill lazily)", "position", p.String())
		l.m.savedOffset.Set(float64(p.Offset))
		l.m.savedFile.Set(float64(p.FileNumber()))
		return p, nil
	}
	l.m.savedOffset.Set(float64(p.Offset))
	l.m.savedFile.Set(float64(p.FileNumber()))
	if p.GTID != "" {
		return p, nil // the server says at connect whether it still has it (error 1236)
	}
	files, err := BinaryLogs(ctx, l.db)
	if err != nil {
		return Position{}, err
	}
	for _, f := range files {
		if f == p.File {
			return p, nil
		}
	}
	return Position{}, &PurgedError{Pos: p, Reason: fmt.Sprintf("binlog file %s is no longer on the server (it has %v)", p.File, files)}
}

func (l *Listener) canalConfig() *canal.Config {
	c := canal.NewDefaultConfig()
	c.Addr, c.User, c.Password = l.addr, l.user, l.password
	c.Charset = "utf8mb4"
	c.ServerID = l.cfg.ServerID
	c.Flavor = l.cfg.MySQL.Flavor
	c.HeartbeatPeriod = heartbeat
	c.ReadTimeout = readTimeout
	c.ParseTime = true
	c.Dump.ExecutionPath = "" // binlog only, no mysqldump
	c.IncludeTableRegex = []string{"^" + regexp.QuoteMeta(l.database) + `\.(` + rowmap.Table + "|" + rowmap.PinTable + "|" + rowmap.UserTable + "|" + rowmap.BanTable + ")$"}
	c.Logger = slog.New(canalLogHandler{l.cfg.Logger.Handler()}).With("component", "canal")
	return c
}
