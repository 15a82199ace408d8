package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// runStatic is `bench static`: the physical-limit baseline, a plain
// net/http handler serving pre-fetched readsvc answers byte for byte from a
// map, with the same headers (staticPage; the header values are the
// decoded file's, assigned as they are, so the handler does no more than
// write them). It has an admin listener with /readyz like the services, so
// the launcher treats it alike.
func runStatic(args []string) error {
	fs := flag.NewFlagSet("static", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	admin := fs.String("admin-addr", "127.0.0.1:0", "admin listen address (/readyz)")
	file := fs.String("pages", "", "JSON map of request URI → body")
	if err := fs.Parse(args); err != nil {
		return err
	}
	b, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	var pages map[string]staticPage
	if err := json.Unmarshal(b, &pages); err != nil {
		return fmt.Errorf("%s: %w", *file, err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page, ok := pages[r.URL.RequestURI()]
		if !ok {
			http.NotFound(w, r)
			return
		}
		hdr := w.Header()
		for k, v := range page.Header {
			hdr[k] = v
		}
		_, _ = w.Write(page.Body)
	})
	adminMux := http.NewServeMux()
	adminMux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	api, adm := &http.Server{Addr: *addr, Handler: h}, &http.Server{Addr: *admin, Handler: adminMux}
	errc := make(chan error, 2)
	go func() { errc <- api.ListenAndServe() }()
	go func() { errc <- adm.ListenAndServe() }()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	select {
	case <-sig:
	case err = <-errc:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = api.Shutdown(ctx)
	_ = adm.Shutdown(ctx)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
