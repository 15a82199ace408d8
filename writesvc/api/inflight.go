package api

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vidcomments/vidcomments/internal/httpapi"
)

// DefaultMaxInflight is Config.MaxInflight's default: well above what the
// MySQL pool (64 connections) serves at once, so it only bites when
// requests pile up behind a slow or failing database.
const DefaultMaxInflight = 512

// inflightLimit bounds the API requests being worked on at once.
type inflightLimit struct {
	slots   chan struct{}
	refused prometheus.Counter
}

func newInflightLimit(n int, reg prometheus.Registerer) (*inflightLimit, error) {
	l := &inflightLimit{
		slots: make(chan struct{}, n),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "writesvc_http_overloaded_total",
			Help: "API requests refused with 503 overloaded because the in-flight limit was reached.",
		}),
	}
	if err := reg.Register(l.refused); err != nil {
		return nil, fmt.Errorf("api metrics: %w", err)
	}
	return l, nil
}

// limitInflight answers a request beyond Config.MaxInflight with 503
// overloaded and Retry-After at once, instead of letting one more
// goroutine (with its body and context) queue behind the MySQL pool until
// its request timeout.
func (a *API) limitInflight(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case a.inflight.slots <- struct{}{}:
			defer func() { <-a.inflight.slots }()
			next.ServeHTTP(w, r)
		default:
			a.inflight.refused.Inc()
			w.Header().Set("Retry-After", "1")
			httpapi.WriteError(w, http.StatusServiceUnavailable, "overloaded", "too many requests are being worked on; retry shortly")
		}
	})
}
