package openapi

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vidcomments/vidcomments/internal/auth"
	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/httpapi"
	writeapi "github.com/vidcomments/vidcomments/writesvc/api"
	"github.com/vidcomments/vidcomments/writesvc/store"
)

var actionPath = regexp.MustCompile(`^(/v1/mod/[a-z]+/)\{[a-z_]+\}:([a-z]+)$`)

// documentedActions returns the :action names documented per collection
// (/v1/mod/comments/, /v1/mod/users/).
func documentedActions(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for path := range load(t).Paths {
		if m := actionPath.FindStringSubmatch(path); m != nil {
			out[m[1]] = append(out[m[1]], m[2])
		}
	}
	for k := range out {
		slices.Sort(out[k])
	}
	return out
}

// The {idAction} routes dispatch on the action themselves, so route walking
// cannot see which actions exist: ask the handler. Every documented action
// is accepted (the request fails later, on the id "0", with 400), an
// undocumented one answers 404 unknown_action, and every comment action
// the store knows is documented.
func TestDocumentedActionsAreServed(t *testing.T) {
	const secret = "openapi-test-secret-0123456789abcdef"
	v, err := auth.NewVerifier(secret, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	w, err := writeapi.New(writeapi.Config{Moderation: comment.Pending, MaxRunes: 1000}, nil, nil, nil, v, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	tok, err := auth.Issue(secret, auth.Principal{UserID: 1, Role: auth.RoleModerator}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	post := func(path string) (int, string) {
		req := httptest.NewRequest(http.MethodPost, path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		w.Handler().ServeHTTP(rec, req)
		var body httpapi.ErrorBody
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		return rec.Code, body.Error.Code
	}

	docs := documentedActions(t)
	for _, act := range []string{string(store.Approve), string(store.Reject), string(store.Delete)} {
		if !slices.Contains(docs["/v1/mod/comments/"], act) {
			t.Errorf("comment action %q is not documented", act)
		}
	}
	if len(docs["/v1/mod/users/"]) == 0 {
		t.Error("no user actions documented")
	}
	for prefix, actions := range docs {
		for _, a := range append(slices.Clone(actions), "frobnicate") {
			t.Run(prefix+"0:"+a, func(t *testing.T) {
				code, errCode := post(prefix + "0:" + a)
				documented := a != "frobnicate"
				switch {
				case documented && code != http.StatusBadRequest:
					t.Errorf("documented action answered %d %s, want 400 for the id 0", code, errCode)
				case !documented && (code != http.StatusNotFound || errCode != "unknown_action"):
					t.Errorf("undocumented action answered %d %s, want 404 unknown_action", code, errCode)
				}
			})
		}
	}
}
