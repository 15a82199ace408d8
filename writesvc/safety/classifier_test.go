package safety

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// classifierServer runs handler as the classifier until the test ends.
func classifierServer(t *testing.T, handler http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return srv
}

func newTestClassifier(t *testing.T, srv *httptest.Server, timeout time.Duration, failOpen bool) *Classifier {
	t.Helper()
	client := srv.Client()
	t.Cleanup(client.CloseIdleConnections)
	c, err := NewClassifier(ClassifierConfig{URL: srv.URL + "/classify", Timeout: timeout, FailOpen: failOpen, Client: client}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestClassifierHangs: a classifier that never answers costs the post its
// timeout and no more, then the configured fallback — allow when failing
// open, hold when failing closed, never refuse.
func TestClassifierHangs(t *testing.T) {
	const timeout = 200 * time.Millisecond
	const slack = 150 * time.Millisecond
	for _, tc := range []struct {
		failOpen bool
		want     Action
	}{{true, Allow}, {false, Hold}} {
		name := map[bool]string{true: "fail open", false: "fail closed"}[tc.failOpen]
		t.Run(name, func(t *testing.T) {
			release := make(chan struct{})
			srv := classifierServer(t, func(w http.ResponseWriter, r *http.Request) {
				select { // hang until the caller gives up (or the test ends)
				case <-r.Context().Done():
				case <-release:
				}
			})
			t.Cleanup(func() { close(release) })
			c := newTestClassifier(t, srv, timeout, tc.failOpen)
			start := time.Now()
			v, err := c.Check(context.Background(), Comment{UserID: 1, VideoID: 2, Content: "hello"})
			elapsed := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			if v.Action != tc.want || v.Reason != ReasonClassifierUnavailable {
				t.Errorf("verdict %+v, want %s/%s", v, tc.want, ReasonClassifierUnavailable)
			}
			if !strings.Contains(v.Detail, "timeout") {
				t.Errorf("detail %q does not say it timed out", v.Detail)
			}
			if elapsed < timeout || elapsed > timeout+slack {
				t.Errorf("fallback after %v, want within [%v, %v]", elapsed, timeout, timeout+slack)
			}
		})
	}
}

func TestClassifierVerdicts(t *testing.T) {
	var got ClassifierRequest
	srv := classifierServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad request", 400)
			return
		}
		got = ClassifierRequest{}
		if err := json.NewDecoder(r.Body).Decode(&got); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		switch {
		case strings.Contains(got.Content, "toxic"):
			_, _ = w.Write([]byte(`{"verdict":"refuse","reason":"toxicity 0.97"}`))
		case strings.Contains(got.Content, "maybe"):
			_, _ = w.Write([]byte(`{"verdict":"hold","reason":"unsure\u0000\n"}`))
		case strings.Contains(got.Content, "500"):
			http.Error(w, "broken", 500)
		case strings.Contains(got.Content, "garbage"):
			_, _ = w.Write([]byte(`<html>`))
		case strings.Contains(got.Content, "unknown"):
			_, _ = w.Write([]byte(`{"verdict":"block"}`))
		default:
			_, _ = w.Write([]byte(`{"verdict":"allow"}`))
		}
	})
	c := newTestClassifier(t, srv, time.Second, false)
	cases := []struct {
		content string
		want    Verdict
	}{
		{"fine", Verdict{Action: Allow, Reason: ReasonClassifier}},
		{"toxic words", Verdict{Action: Refuse, Reason: ReasonClassifier, Detail: "toxicity 0.97"}},
		{"maybe so", Verdict{Action: Hold, Reason: ReasonClassifier, Detail: "unsure"}},
		{"answer 500", Verdict{Action: Hold, Reason: ReasonClassifierUnavailable, Detail: "classifier answered 500"}},
		{"garbage", Verdict{Action: Hold, Reason: ReasonClassifierUnavailable}},
		{"unknown verdict", Verdict{Action: Hold, Reason: ReasonClassifierUnavailable}},
	}
	for _, tc := range cases {
		v, err := c.Check(context.Background(), Comment{UserID: 7, VideoID: 9, Content: tc.content})
		if err != nil {
			t.Fatal(err)
		}
		if v.Action != tc.want.Action || v.Reason != tc.want.Reason || (tc.want.Detail != "" && v.Detail != tc.want.Detail) {
			t.Errorf("%q: %+v, want %+v", tc.content, v, tc.want)
		}
	}
	if got != (ClassifierRequest{Content: "unknown verdict", UserID: "7", VideoID: "9"}) {
		t.Errorf("the classifier was sent %+v", got)
	}
	if _, err := c.Check(context.Background(), Comment{UserID: 7, CommentID: 11, Content: "an edit"}); err != nil {
		t.Fatal(err)
	}
	if got != (ClassifierRequest{Content: "an edit", UserID: "7", CommentID: "11"}) {
		t.Errorf("an edit: the classifier was sent %+v", got)
	}
}

func TestClassifierUnreachable(t *testing.T) {
	srv := classifierServer(t, func(http.ResponseWriter, *http.Request) {})
	c := newTestClassifier(t, srv, time.Second, true)
	srv.Close() // nothing listens any more
	v, err := c.Check(context.Background(), Comment{Content: "x"})
	if err != nil || v.Action != Allow || v.Reason != ReasonClassifierUnavailable {
		t.Errorf("unreachable, failing open: %+v, %v", v, err)
	}
}

func TestNewClassifierRefuses(t *testing.T) {
	for _, cfg := range []ClassifierConfig{{URL: ""}, {URL: "ftp://x"}, {URL: "http://x", Timeout: -time.Second}} {
		if _, err := NewClassifier(cfg, nil); err == nil {
			t.Errorf("NewClassifier accepted %+v", cfg)
		}
	}
}
