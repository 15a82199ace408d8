package binlog

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"
)

// ErrLockLost means the leader lock's connection failed or no longer holds
// the lock: another cdc may be acting, so this one must stop.
var ErrLockLost = errors.New("leader lock lost")

// ErrLockHeld means another process holds the leader lock.
var ErrLockHeld = errors.New("leader lock held by another process")

// Lock is MySQL's GET_LOCK held on one dedicated connection for as long as
// this process leads. MySQL releases it the moment that connection ends —
// the process died, was killed, or lost the network — which is what lets a
// standby take over.
type Lock struct {
	conn *sql.Conn
	name string
	id   int64 // the connection id holding the lock
}

// TryLock takes the lock if it is free right now; ErrLockHeld if not.
func TryLock(ctx context.Context, db *sql.DB, name string) (*Lock, error) {
	return getLock(ctx, db, name, 0)
}

// AcquireLock blocks until it holds the lock or ctx is done. Each attempt
// waits up to wait inside MySQL, so a released lock is taken at once.
// onWait is called once, when the first attempt finds the lock held.
func AcquireLock(ctx context.Context, db *sql.DB, name string, wait time.Duration, onWait func()) (*Lock, error) {
	waiting := false
	for {
		l, err := getLock(ctx, db, name, wait)
		if err == nil {
			return l, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, ErrLockHeld) {
			if !waiting && onWait != nil {
				onWait()
			}
			waiting = true
			continue
		}
		// MySQL unreachable: try again shortly.
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
}

func getLock(ctx context.Context, db *sql.DB, name string, wait time.Duration) (*Lock, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("leader lock connection: %w", err)
	}
	var (
		got sql.NullInt64
		id  int64
	)
	err = conn.QueryRowContext(ctx, `SELECT GET_LOCK(?, ?), CONNECTION_ID()`, name, int64(wait/time.Second)).Scan(&got, &id)
	if err != nil || got.Int64 != 1 {
		discard(conn)
		if err != nil {
			return nil, fmt.Errorf("GET_LOCK(%s): %w", name, err)
		}
		return nil, ErrLockHeld
	}
	return &Lock{conn: conn, name: name, id: id}, nil
}

// Name is the lock's name.
func (l *Lock) Name() string { return l.name }

// ConnectionID is the MySQL connection holding the lock.
func (l *Lock) ConnectionID() int64 { return l.id }

// Check proves the lock is still held by this connection.
func (l *Lock) Check(ctx context.Context) error {
	var held sql.NullBool
	if err := l.conn.QueryRowContext(ctx, `SELECT IS_USED_LOCK(?) = CONNECTION_ID()`, l.name).Scan(&held); err != nil {
		return fmt.Errorf("%w: %v", ErrLockLost, err)
	}
	if !held.Bool {
		return ErrLockLost
	}
	return nil
}

// SavePosition saves p as pipeline name's position, fenced: on the lock's
// own connection, in one statement that writes only while that connection
// holds the lock. ErrLockLost if it does not.
func (l *Lock) SavePosition(ctx context.Context, name string, p Position) error {
	gtid := sql.NullString{String: p.GTID, Valid: p.GTID != ""}
	res, err := l.conn.ExecContext(ctx, savePositionSQL, name, p.File, p.Offset, gtid, l.name)
	if err != nil {
		return fmt.Errorf("%w: save position: %v", ErrLockLost, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("%w: position not saved (lock no longer held by connection %d)", ErrLockLost, l.id)
	}
	return nil
}

// Release gives the lock up and drops its connection, so MySQL releases it
// even if RELEASE_LOCK cannot run.
func (l *Lock) Release() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, _ = l.conn.ExecContext(ctx, `DO RELEASE_LOCK(?)`, l.name)
	discard(l.conn)
}

// discard closes conn without returning it to the pool: a pooled connection
// must never keep a lock.
func discard(conn *sql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	_ = conn.Close()
}
