package binlog

import (
	"context"
	"log/slog"

	"github.com/go-mysql-org/go-mysql/canal"
	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/vidcomments/vidcomments/cdc/rowmap"
	"github.com/vidcomments/vidcomments/internal/pagecache"
)

// work is one unit for the applier, in binlog order: the changes of one rows
// event, or a position reached after a transaction (XID or COMMIT), a rotate
// or a DDL.
type work struct {
	rows    bool               // a rows event
	changes []pagecache.Change // what rowmap mapped
	pins    []rowmap.Pin       // what rowmap mapped of a video_pins event
	users   []int64            // whose profiles a users or user_bans event changed
	failed  error              // rows it could not map (joined *rowmap.RowError)
	at      uint32             // binlog timestamp (Unix seconds), 0 if unknown
	pos     *Position          // a position everything before which is handed over
	force   bool               // save pos now (rotate, DDL)
}

// handler is canal's event handler: it maps row images on canal's goroutine
// and hands everything, in order, to the applier's goroutine.
type handler struct {
	canal.DummyEventHandler
	work chan<- work
	quit <-chan struct{} // closed when the listener stops leading
	log  *slog.Logger
}

func (h *handler) send(w work) error {
	select {
	case h.work <- w:
		return nil
	case <-h.quit:
		// context.Canceled: canal ends its run without logging an error.
		return context.Canceled
	}
}

func (h *handler) OnRow(e *canal.RowsEvent) error {
	var w work
	switch name := tableName(e); name {
	case rowmap.PinTable:
		pins, err := rowmap.Pins(e)
		w = work{rows: true, pins: pins, failed: err}
	case rowmap.UserTable, rowmap.BanTable:
		users, err := rowmap.Users(e)
		if err != nil {
			// Such a row names no video: the profiles it would have
			// refreshed expire from Redis within profiles.TTL.
			h.log.Error("profile row change cannot be read", "table", name, "err", err)
		}
		w = work{rows: true, users: users}
	default:
		changes, err := rowmap.Changes(e)
		w = work{rows: true, changes: changes, failed: err}
	}
	if e.Header != nil {
		w.at = e.Header.Timestamp
	}
	return h.send(w)
}

// OnPosSynced is called after every transaction, rotate and DDL, with force
// set for rotates and DDL. The rows before it have been handed over already.
func (h *handler) OnPosSynced(header *replication.EventHeader, pos mysql.Position, set mysql.GTIDSet, force bool) error {
	if header == nil {
		// canal.Close reports its last position: the applier already has it
		// (or dropped the rows before it, which then must not be saved).
		return nil
	}
	p := Position{File: pos.Name, Offset: pos.Pos}
	if set != nil {
		p.GTID = set.String()
	}
	return h.send(work{pos: &p, force: force, at: header.Timestamp})
}

// OnTableNotFound: a rows event of a followed table that has been dropped
// since (a replay across a DROP TABLE). Without the table's columns its rows
// cannot be read by name; stopping would not make them readable either, so
// it is logged and skipped.
func (h *handler) OnTableNotFound(header *replication.EventHeader, e *replication.RowsEvent) error {
	h.log.Warn("rows event of a table that no longer exists; skipped",
		"schema", string(e.Table.Schema), "table", string(e.Table.Table), "binlog_pos", header.LogPos)
	return nil
}

func tableName(e *canal.RowsEvent) string {
	if e.Table == nil {
		return ""
	}
	return e.Table.Name
}

func (h *handler) String() string { return "cdc" }
