package safety

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultClassifierTimeout bounds one classifier call: the post waits for
// it, so it must be short.
const DefaultClassifierTimeout = 500 * time.Millisecond

// ClassifierConfig configures Classifier.
type ClassifierConfig struct {
	URL      string        // POST target
	Timeout  time.Duration // bound on one call, reading the answer included (0: DefaultClassifierTimeout)
	FailOpen bool          // on a timeout or error: true allows, false holds for review
	Client   *http.Client  // nil: a client of its own
}

// ClassifierRequest is the JSON the classifier is sent. Ids are strings,
// as in every vidcomments API. A post names its video, an edit the comment
// it changes.
type ClassifierRequest struct {
	Content   string `json:"content"`
	UserID    string `json:"user_id"`
	VideoID   string `json:"video_id,omitempty"`
	CommentID string `json:"comment_id,omitempty"`
}

// ClassifierResponse is the JSON the classifier answers with (2xx).
type ClassifierResponse struct {
	Verdict string `json:"verdict"` // allow | hold | refuse
	Reason  string `json:"reason"`  // its own words, kept as the verdict's Detail
}

// maxClassifierBody bounds the answer read.
const maxClassifierBody = 64 << 10

// Classifier asks an HTTP service for a verdict. It never returns an error:
// a timeout, a transport error, a non-2xx answer or one it cannot read is
// the configured fallback, with reason classifier_unavailable.
type Classifier struct {
	cfg    ClassifierConfig
	client *http.Client
	log    *slog.Logger
}

// NewClassifier checks cfg.
func NewClassifier(cfg ClassifierConfig, logger *slog.Logger) (*Classifier, error) {
	if !strings.HasPrefix(cfg.URL, "http://") && !strings.HasPrefix(cfg.URL, "https://") {
		return nil, fmt.Errorf("safety classifier url %q: want http:// or https://", cfg.URL)
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("safety classifier timeout %v: want a positive duration", cfg.Timeout)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultClassifierTimeout
	}
	client := cfg.Client
	if client == nil {
		client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute}}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Classifier{cfg: cfg, client: client, log: logger}, nil
}

// Close drops the idle connections to the classifier.
func (c *Classifier) Close() error {
	c.client.CloseIdleConnections()
	return nil
}

// Check implements Checker.
func (c *Classifier) Check(ctx context.Context, cm Comment) (Verdict, error) {
	v, err := c.ask(ctx, cm)
	if err == nil {
		return v, nil
	}
	if ctx.Err() != nil && !errors.Is(err, errTimeout) {
		// The request itself ended (client gone, request timeout): the
		// post will not be stored anyway; hold rather than allow.
		return Verdict{Action: Hold, Reason: ReasonClassifierUnavailable, Detail: clip(err.Error(), MaxDetail)}, nil
	}
	c.log.Warn("safety classifier unavailable; using the fallback", "fail_open", c.cfg.FailOpen, "err", err)
	fallback := Hold
	if c.cfg.FailOpen {
		fallback = Allow
	}
	return Verdict{Action: fallback, Reason: ReasonClassifierUnavailable, Detail: clip(err.Error(), MaxDetail)}, nil
}

var errTimeout = errors.New("no answer within the timeout")

func (c *Classifier) ask(parent context.Context, cm Comment) (Verdict, error) {
	ctx, cancel := context.WithTimeoutCause(parent, c.cfg.Timeout, errTimeout)
	defer cancel()
	body, _ := json.Marshal(ClassifierRequest{
		Content: cm.Content, UserID: strconv.FormatInt(cm.UserID, 10), VideoID: optionalID(cm.VideoID), CommentID: optionalID(cm.CommentID),
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return Verdict{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return Verdict{}, classifierErr(ctx, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxClassifierBody))
	if err != nil {
		return Verdict{}, classifierErr(ctx, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return Verdict{}, fmt.Errorf("classifier answered %d", resp.StatusCode)
	}
	var out ClassifierResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		return Verdict{}, fmt.Errorf("classifier answer: %w", err)
	}
	action, err := ParseAction(out.Verdict)
	if err != nil {
		return Verdict{}, fmt.Errorf("classifier answer: %w", err)
	}
	return Verdict{Action: action, Reason: ReasonClassifier, Detail: clip(printable(out.Reason), MaxDetail)}, nil
}

func optionalID(id int64) string {
	if id == 0 {
		return ""
	}
	return strconv.FormatInt(id, 10)
}

// classifierErr names a timeout as one.
func classifierErr(ctx context.Context, err error) error {
	if errors.Is(context.Cause(ctx), errTimeout) {
		return fmt.Errorf("classifier: %w", errTimeout)
	}
	return fmt.Errorf("classifier: %w", err)
}

// printable drops control characters from the classifier's words.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
}
