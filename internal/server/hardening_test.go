package server

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Every listener a service opens — admin, API, groupcache peers — is an
// http.Server with every timeout and a header bound set: a client that
// trickles its headers, never finishes its body or idles forever cannot
// hold a connection (and its goroutine) for ever.
func TestEveryListenerIsHardened(t *testing.T) {
	a := NewApp("test", quiet(), NewAdmin(prometheus.NewRegistry()), "127.0.0.1:0")
	a.AddServer("api", "127.0.0.1:0", http.NotFoundHandler())
	a.AddServer("peer", "127.0.0.1:0", http.NotFoundHandler())
	if len(a.servers) != 3 {
		t.Fatalf("%d servers", len(a.servers))
	}
	for _, s := range a.servers {
		t.Run(s.name, func(t *testing.T) {
			srv := s.srv
			for name, d := range map[string]time.Duration{
				"ReadHeaderTimeout": srv.ReadHeaderTimeout, "ReadTimeout": srv.ReadTimeout,
				"WriteTimeout": srv.WriteTimeout, "IdleTimeout": srv.IdleTimeout,
			} {
				if d <= 0 || d > 5*time.Minute {
					t.Errorf("%s = %v", name, d)
				}
			}
			if srv.ReadHeaderTimeout > srv.ReadTimeout {
				t.Errorf("ReadHeaderTimeout %v beyond ReadTimeout %v", srv.ReadHeaderTimeout, srv.ReadTimeout)
			}
			if srv.MaxHeaderBytes <= 0 || srv.MaxHeaderBytes > 1<<20 {
				t.Errorf("MaxHeaderBytes = %d", srv.MaxHeaderBytes)
			}
		})
	}
}

// The same, seen from a client: headers that never end are cut off after
// ReadHeaderTimeout, and a request line or headers beyond MaxHeaderBytes
// get 431 without reaching the handler.
func TestSlowAndOversizedRequestsAreRefused(t *testing.T) {
	a := NewApp("test", quiet(), NewAdmin(prometheus.NewRegistry()), "127.0.0.1:0")
	reached := make(chan string, 16)
	a.AddServer("api", "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached <- r.URL.Path
		io.WriteString(w, "ok")
	}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	for deadline := time.Now().Add(5 * time.Second); !a.Admin.ready.Load(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("app never became ready")
		}
	}
	addr := a.Addr("api")
	headerTimeout := a.servers[1].srv.ReadHeaderTimeout

	tests := []struct {
		name string
		send string
		want string // the start of the answer; "" for a connection closed without one
	}{
		{"headers trickled and never finished", "GET /slow HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n", ""},
		{"request line beyond MaxHeaderBytes", "GET /" + strings.Repeat("a", 200<<10) + " HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 431"},
		{"headers beyond MaxHeaderBytes", "GET /big HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-Filler: "+strings.Repeat("b", 1000)+"\r\n", 200) + "\r\n", "HTTP/1.1 431"},
		{"an ordinary request still works", "GET /fine HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "HTTP/1.1 200"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_, _ = io.WriteString(conn, tt.send) // the server may stop reading early
			// Generous: the bound is the server's timeout, not this deadline.
			_ = conn.SetReadDeadline(time.Now().Add(headerTimeout*3 + 10*time.Second))
			got, err := io.ReadAll(conn)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the server still holds the connection after %v", headerTimeout*3+10*time.Second)
			}
			if !strings.HasPrefix(string(got), tt.want) || (tt.want == "" && len(got) > 0 && !strings.HasPrefix(string(got), "HTTP/1.1 408")) {
				t.Errorf("answer %.80q, want it to start with %q", got, tt.want)
			}
		})
	}
	close(reached)
	var paths []string
	for p := range reached {
		paths = append(paths, p)
	}
	if strings.Join(paths, ",") != "/fine" {
		t.Errorf("the handler saw %v, want only /fine", paths)
	}
}
