package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/vidcomments/vidcomments/internal/apiclient"
	"github.com/vidcomments/vidcomments/internal/auth"
)

// visibleTimeout bounds one wait for a change to show; a sample that hits
// it is recorded at the bound and counted.
const visibleTimeout = 10 * time.Second

// pollEvery is how often the client polls readsvc while waiting.
const pollEvery = 5 * time.Millisecond

// writer drives writesvc and watches readsvc.
type writer struct {
	secret string
	client *http.Client
	read   string // readsvc base URL
}

func (w *writer) token(user int64, role auth.Role) (string, error) {
	return auth.Issue(w.secret, auth.Principal{UserID: user, Role: role}, time.Now(), time.Hour)
}

// post creates a comment as user and returns its id and status.
func (w *writer) post(ctx context.Context, base string, video, user int64, content string) (string, string, error) {
	tok, err := w.token(user, auth.RoleUser)
	if err != nil {
		return "", "", err
	}
	r, err := newAPI(base, w.client).PostCommentWithResponse(ctx, apiID(video), nil, apiclient.NewComment{Content: content}, bearer(tok))
	if err != nil {
		return "", "", err
	}
	if r.StatusCode() != http.StatusAccepted || r.JSON202 == nil {
		return "", "", fmt.Errorf("POST %s: %d %s", r.HTTPResponse.Request.URL, r.StatusCode(), r.Body)
	}
	return r.JSON202.Id, string(r.JSON202.Status), nil
}

// moderate approves or rejects comment id.
func (w *writer) moderate(ctx context.Context, base, id, action string) error {
	tok, err := w.token(1, auth.RoleModerator)
	if err != nil {
		return err
	}
	api := newAPI(base, w.client)
	var code int
	var body []byte
	var u fmt.Stringer
	switch action {
	case "approve":
		r, err := api.ApproveCommentWithResponse(ctx, id, apiclient.OptionalReasonBody{}, bearer(tok))
		if err != nil {
			return err
		}
		code, body, u = r.StatusCode(), r.Body, r.HTTPResponse.Request.URL
	case "reject":
		r, err := api.RejectCommentWithResponse(ctx, id, apiclient.RejectCommentJSONRequestBody{Reason: "bench: rejected"}, bearer(tok))
		if err != nil {
			return err
		}
		code, body, u = r.StatusCode(), r.Body, r.HTTPResponse.Request.URL
	default:
		return fmt.Errorf("no moderation action %q", action)
	}
	if code != http.StatusOK {
		return fmt.Errorf("POST %s: %d %s", u, code, body)
	}
	return nil
}

// waitFor polls video's first page on readsvc until shown(page) holds, and
// returns how long after since it did (visibleTimeout if never).
func (w *writer) waitFor(ctx context.Context, video int64, since time.Time, shown func(page) bool) (time.Duration, bool) {
	api := newAPI(w.read, w.client)
	for {
		if p, err := fetchPage(ctx, api, video, ""); err == nil && shown(p) {
			return time.Since(since), true
		}
		if time.Since(since) > visibleTimeout || ctx.Err() != nil {
			return visibleTimeout, false
		}
		time.Sleep(pollEvery)
	}
}

// delays collects samples and timeouts of one end-to-end delay.
type delays struct {
	samples  []time.Duration
	timeouts int
}

func (d *delays) add(t time.Duration, ok bool) {
	d.samples = append(d.samples, t)
	if !ok {
		d.timeouts++
	}
}

// postToVisible posts n comments (writesvc with VC_MODERATION=post) to
// video and measures, per comment, the time from sending the POST until
// readsvc's first page shows it.
func (w *writer) postToVisible(ctx context.Context, writeURL string, video int64, n int) (*delays, error) {
	d := &delays{}
	for i := range n {
		start := time.Now()
		id, status, err := w.post(ctx, writeURL, video, 5000+int64(i), fmt.Sprintf("bench post→visible %d at %s", i, start.Format(time.RFC3339Nano)))
		if err != nil {
			return d, err
		}
		if status != "approved" {
			return d, fmt.Errorf("post-moderation writesvc answered status %q", status)
		}
		d.add(w.waitFor(ctx, video, start, func(p page) bool { return p.has(id) }))
	}
	return d, nil
}

// approveReject posts n pending comments (writesvc with VC_MODERATION=pre)
// to video; for each it measures approve→visible (from sending the approve
// until readsvc shows it) and then reject→gone (from sending the reject
// until readsvc no longer shows it).
func (w *writer) approveReject(ctx context.Context, writeURL string, video int64, n int) (approve, reject *delays, err error) {
	approve, reject = &delays{}, &delays{}
	for i := range n {
		id, status, err := w.post(ctx, writeURL, video, 9000+int64(i), fmt.Sprintf("bench moderation %d", i))
		if err != nil {
			return approve, reject, err
		}
		if status != "pending" {
			return approve, reject, fmt.Errorf("pre-moderation writesvc answered status %q", status)
		}
		start := time.Now()
		if err := w.moderate(ctx, writeURL, id, "approve"); err != nil {
			return approve, reject, err
		}
		approve.add(w.waitFor(ctx, video, start, func(p page) bool { return p.has(id) }))
		start = time.Now()
		if err := w.moderate(ctx, writeURL, id, "reject"); err != nil {
			return approve, reject, err
		}
		reject.add(w.waitFor(ctx, video, start, func(p page) bool { return !p.has(id) }))
	}
	return approve, reject, nil
}
