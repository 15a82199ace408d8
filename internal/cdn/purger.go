package cdn

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vidcomments/vidcomments/internal/metric"
)

// Defaults of PurgerConfig.
const (
	DefaultPurgeTimeout = time.Second
	// tagsPerPurge keeps one xkey-purge header well inside Varnish's
	// default limit of a request header (http_req_hdr_len, 8 KiB).
	tagsPerPurge  = 200
	purgeAttempts = 3
	retryPause    = 50 * time.Millisecond
)

// PurgerConfig configures a Purger.
type PurgerConfig struct {
	// URLs of the Varnish instances, e.g. http://127.0.0.1:6081. Empty: the
	// Purger accepts tags and sends nothing.
	URLs []string
	// Repeat is when the second purge of a tag follows the first (readsvc's
	// max-age, see the package comment); 0 sends each tag once.
	Repeat time.Duration
	// Settle, when set, sends a tag once more this soon after the first
	// purge: a Varnish fetch already under way when the first purge
	// landed read its page before the change and stores it after the
	// purge, where only a later purge removes it. Without Settle that
	// copy lives until Repeat; only with a Repeat longer than it.
	Settle   time.Duration
	Timeout  time.Duration // of one PURGE request; 0 = DefaultPurgeTimeout
	Client   *http.Client  // nil: a client of its own
	Registry prometheus.Registerer
	Logger   *slog.Logger
}

// Purger sends PURGE requests with an xkey-purge header to every Varnish.
// Purge never blocks its caller: tags gather in a set that one goroutine
// drains, so a burst of changes to one video is one request, and a dead
// Varnish slows nobody but the Purger.
type Purger struct {
	cfg    PurgerConfig
	client *http.Client
	log    *slog.Logger
	sent   *prometheus.CounterVec
	tags   prometheus.Counter
	took   prometheus.Histogram

	mu      sync.Mutex
	pending map[string]bool // tag → purge it once more after Repeat
	closed  bool
	wake    chan struct{}
	stop    context.CancelFunc
	done    chan struct{}
}

// NewPurger starts a Purger; Close stops it.
func NewPurger(cfg PurgerConfig) (*Purger, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultPurgeTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	client := cfg.Client
	if client == nil {
		client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4, IdleConnTimeout: time.Minute}}
	}
	f := metric.With(cfg.Registry)
	ctx, stop := context.WithCancel(context.Background())
	p := &Purger{
		cfg:     cfg,
		client:  client,
		log:     cfg.Logger,
		sent:    f.CounterPer("vc_cdn_purges_total", "PURGE requests sent to a Varnish, by result (failed: after every retry).", "result", "ok", "failed"),
		tags:    f.Counter("vc_cdn_purge_tags_total", "Tags purged (each counted once per purge, the repeat included)."),
		took:    f.Histogram("vc_cdn_purge_seconds", "From a batch taken to every Varnish answered.", prometheus.ExponentialBuckets(0.0005, 2, 14)),
		pending: map[string]bool{},
		wake:    make(chan struct{}, 1),
		stop:    stop,
		done:    make(chan struct{}),
	}
	if err := f.Err(); err != nil {
		stop()
		return nil, fmt.Errorf("cdn purger metrics: %w", err)
	}
	go p.run(ctx)
	return p, nil
}

// Purge queues tags for purging from every Varnish: at once, then after
// Settle and after Repeat when they are set. It returns at once.
func (p *Purger) Purge(tags ...string) { p.add(tags, p.cfg.Repeat > 0) }

func (p *Purger) add(tags []string, repeat bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || len(p.cfg.URLs) == 0 {
		return
	}
	for _, t := range tags {
		p.pending[t] = p.pending[t] || repeat
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// take empties the pending set: the tags, and those of them to repeat.
func (p *Purger) take() (all, again []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for t, repeat := range p.pending {
		all = append(all, t)
		if repeat {
			again = append(again, t)
		}
	}
	clear(p.pending)
	return all, again
}

func (p *Purger) run(ctx context.Context) {
	defer close(p.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		}
		all, again := p.take()
		if len(all) == 0 {
			continue
		}
		if len(again) > 0 {
			if p.cfg.Settle > 0 && p.cfg.Settle < p.cfg.Repeat {
				time.AfterFunc(p.cfg.Settle, func() { p.add(again, false) })
			}
			time.AfterFunc(p.cfg.Repeat, func() { p.add(again, false) })
		}
		start := time.Now()
		slices.Sort(all)
		for chunk := range slices.Chunk(all, tagsPerPurge) {
			p.purgeAll(ctx, strings.Join(chunk, " "))
		}
		p.tags.Add(float64(len(all)))
		p.took.Observe(time.Since(start).Seconds())
	}
}

// purgeAll sends one purge to every Varnish at once.
func (p *Purger) purgeAll(ctx context.Context, header string) {
	var wg sync.WaitGroup
	for _, base := range p.cfg.URLs {
		wg.Go(func() {
			var err error
			for attempt := range purgeAttempts {
				if err = p.purge(ctx, base, header); err == nil || ctx.Err() != nil {
					break
				}
				time.Sleep(retryPause << attempt)
			}
			if err != nil {
				p.sent.WithLabelValues("failed").Inc()
				p.log.Warn("cdn purge failed; shared caches keep the page until s-maxage", "varnish", base, "err", err)
				return
			}
			p.sent.WithLabelValues("ok").Inc()
		})
	}
	wg.Wait()
}

func (p *Purger) purge(ctx context.Context, base, header string) error {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "PURGE", strings.TrimSuffix(base, "/")+"/", nil)
	if err != nil {
		return err
	}
	req.Header.Set(PurgeHeader, header)
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("PURGE %s: %s", base, resp.Status)
	}
	return nil
}

// Close stops the Purger; tags not yet sent are dropped (s-maxage bounds
// what they would have removed).
func (p *Purger) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.stop()
	<-p.done
	return nil
}
