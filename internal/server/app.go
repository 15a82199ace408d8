package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// DefaultShutdownTimeout bounds the drain of HTTP servers at shutdown.
const DefaultShutdownTimeout = 10 * time.Second

// App is one service process: its listeners and its long-lived components.
// Build it, add servers and closers in construction order, then Run.
type App struct {
	Name            string
	Logger          *slog.Logger
	Admin           *Admin
	ShutdownTimeout time.Duration

	servers []namedServer
	closers []namedCloser
	watches []namedWatch
}

type namedWatch struct {
	name string
	errc <-chan error
}

type namedServer struct {
	name string
	srv  *http.Server
	ln   net.Listener
}

type namedCloser struct {
	name  string
	close func() error
}

// NewApp returns an App whose admin endpoints listen on adminAddr.
func NewApp(name string, logger *slog.Logger, admin *Admin, adminAddr string) *App {
	a := &App{Name: name, Logger: logger, Admin: admin, ShutdownTimeout: DefaultShutdownTimeout}
	a.AddServer("admin", adminAddr, admin.Handler())
	return a
}

// AddServer adds an HTTP listener with hardened timeouts.
func (a *App) AddServer(name, addr string, h http.Handler) {
	a.servers = append(a.servers, namedServer{name: name, srv: &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.Logger.Handler(), slog.LevelWarn),
	}})
}

// OnClose registers a component to close at shutdown; closers run in
// reverse order of registration, after the servers have drained.
func (a *App) OnClose(name string, close func() error) {
	a.closers = append(a.closers, namedCloser{name, close})
}

// Watch makes a component's fatal error stop the App as a failing server
// does: when errc delivers a non-nil error, Run shuts down and returns it.
// For components whose background work can fail for good (cdc's binlog
// listener when its saved position has been purged).
func (a *App) Watch(name string, errc <-chan error) {
	a.watches = append(a.watches, namedWatch{name, errc})
}

// Close runs the closers in reverse order (also used when building fails
// half-way) and returns their errors joined.
func (a *App) Close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		c := a.closers[i]
		if err := c.close(); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", c.name, err))
		}
	}
	a.closers = nil
	return errors.Join(errs...)
}

// Abort closes what was built so far and returns err with any close
// errors: the exit path of a BuildFunc that fails half-way.
func (a *App) Abort(err error) error { return errors.Join(err, a.Close()) }

// Addr returns the bound address of the named server once Run has started
// listening (tests bind port 0).
func (a *App) Addr(name string) string {
	for _, s := range a.servers {
		if s.name == name && s.ln != nil {
			return s.ln.Addr().String()
		}
	}
	return ""
}

// Listen binds every listener, so that a taken port fails start-up before
// the process reports ready.
func (a *App) Listen() error {
	for i := range a.servers {
		s := &a.servers[i]
		if s.ln != nil {
			continue
		}
		ln, err := net.Listen("tcp", s.srv.Addr)
		if err != nil {
			return fmt.Errorf("%s listener: %w", s.name, err)
		}
		s.ln = ln
	}
	return nil
}

// Run listens, marks the process ready, and serves until ctx is done or a
// server fails; then it marks not-ready, drains with a fresh timeout and
// closes every component.
func (a *App) Run(ctx context.Context) error {
	if err := a.Listen(); err != nil {
		return errors.Join(err, a.Close())
	}
	errc := make(chan error, len(a.servers)+len(a.watches))
	stopWatching := make(chan struct{})
	var watching sync.WaitGroup
	defer watching.Wait()
	defer close(stopWatching)
	for _, w := range a.watches {
		watching.Add(1)
		go func() {
			defer watching.Done()
			select {
			case err := <-w.errc:
				if err != nil {
					errc <- fmt.Errorf("%s: %w", w.name, err)
				}
			case <-stopWatching:
			}
		}()
	}
	for _, s := range a.servers {
		a.Logger.Info("listening", "listener", s.name, "addr", s.ln.Addr().String())
		go func() {
			if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("%s server: %w", s.name, err)
			}
		}()
	}
	a.Admin.SetReady(true)
	a.Logger.Info("ready")

	var runErr error
	select {
	case <-ctx.Done():
		a.Logger.Info("shutting down")
	case runErr = <-errc:
		a.Logger.Error("server or component failed; shutting down", "err", runErr)
	}
	a.Admin.SetReady(false)

	// ctx is already done: drain with a context of our own.
	sctx, cancel := context.WithTimeout(context.Background(), a.ShutdownTimeout)
	defer cancel()
	var errs []error
	for i := len(a.servers) - 1; i >= 0; i-- {
		if err := a.servers[i].srv.Shutdown(sctx); err != nil {
			errs = append(errs, fmt.Errorf("shutdown %s: %w", a.servers[i].name, err))
		}
	}
	errs = append(errs, a.Close())
	err := errors.Join(append([]error{runErr}, errs...)...)
	if err == nil {
		a.Logger.Info("stopped")
	}
	return err
}
