package api

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/httpapi"
	"github.com/vidcomments/vidcomments/writesvc/store"
	"github.com/vidcomments/vidcomments/writesvc/validate"
)

// Queue paging.
const (
	DefaultQueueLimit = 50
	MaxQueueLimit     = 100
	MaxBatchIDs       = 100
	MaxBanSeconds     = 10 * 365 * 24 * 3600
)

// QueuePage is the body of GET /v1/mod/queue.
type QueuePage struct {
	Comments   []QueuedComment `json:"comments"`
	NextCursor string          `json:"next_cursor"` // "" on the last page
}

// cursorPrefix versions the opaque cursor.
const cursorPrefix = "q1:"

func encodeCursor(lastID int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + strconv.FormatInt(lastID, 10)))
}

func decodeCursor(s string) (int64, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || !strings.HasPrefix(string(b), cursorPrefix) {
		return 0, false
	}
	id, err := comment.ParseID(strings.TrimPrefix(string(b), cursorPrefix))
	return id, err == nil
}

// queue lists pending comments, oldest first, for one video or all.
func (a *API) queue(w http.ResponseWriter, r *http.Request) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		badRequest("invalid_query", "the query string is malformed").write(w)
		return
	}
	var query store.QueueQuery
	if v := q.Get("video_id"); v != "" || q.Has("video_id") {
		id, err := comment.ParseID(v)
		if err != nil {
			badRequest("invalid_video_id", "video_id must be a positive decimal integer").write(w)
			return
		}
		query.VideoID = id
	}
	if c := q.Get("cursor"); c != "" {
		id, ok := decodeCursor(c)
		if !ok {
			badRequest("invalid_cursor", "cursor must be a next_cursor this API returned").write(w)
			return
		}
		query.AfterID = id
	}
	query.Limit = DefaultQueueLimit
	if l := q.Get("limit"); l != "" || q.Has("limit") {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > MaxQueueLimit {
			badRequest("invalid_limit", "limit must be an integer from 1 to %d", MaxQueueLimit).write(w)
			return
		}
		query.Limit = n
	}
	want := query.Limit
	query.Limit++ // one more tells whether there is a next page
	rows, err := a.store.Queue(r.Context(), query)
	if err != nil {
		a.unavailable(w, r, "storage", err)
		return
	}
	page := QueuePage{Comments: make([]QueuedComment, 0, min(len(rows), want))}
	for i, c := range rows {
		if i == want {
			page.NextCursor = encodeCursor(rows[want-1].ID)
			break
		}
		page.Comments = append(page.Comments, queued(c))
	}
	httpapi.WriteJSON(w, http.StatusOK, page)
}

// reasonBody is the optional body of a single moderation action.
type reasonBody struct {
	Reason *string `json:"reason"`
}

// ActionResult is the body of a single moderation action.
type ActionResult struct {
	Changed bool              `json:"changed"`
	Comment comment.Moderated `json:"comment"`
}

// splitAction splits "{id}:{action}" (the colon may arrive escaped as
// %3A: chi routes on the raw path).
func splitAction(s string) (id, action string, ok bool) {
	s, err := url.PathUnescape(s)
	if err != nil {
		return "", "", false
	}
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return "", "", false
	}
	return s[:i], s[i+1:], true
}

// routeAction reads the route's "{id}:{action}" segment: 404 when it is
// not one or the action is none of actions, 400 invalid_<kind>_id when the
// id is not one. ok is false when it has answered.
func routeAction(w http.ResponseWriter, r *http.Request, kind string, actions ...string) (id int64, action string, ok bool) {
	rawID, action, ok := splitAction(chi.URLParam(r, "idAction"))
	if !ok {
		httpapi.WriteError(w, http.StatusNotFound, "not_found", "no such resource")
		return 0, "", false
	}
	if !slices.Contains(actions, action) {
		last := len(actions) - 1
		httpapi.WriteError(w, http.StatusNotFound, "unknown_action",
			"the action must be :"+strings.Join(actions[:last], ", :")+" or :"+actions[last])
		return 0, "", false
	}
	id, ok = pathID(w, rawID, kind)
	return id, action, ok
}

// moderate serves POST /v1/mod/comments/{id}:approve|reject|delete.
func (a *API) moderate(w http.ResponseWriter, r *http.Request) {
	id, rawAction, ok := routeAction(w, r, "comment", string(store.Approve), string(store.Reject), string(store.Delete))
	if !ok {
		return
	}
	action := store.Action(rawAction)
	reason, aerr := a.readReason(w, r, action)
	if aerr != nil {
		aerr.write(w)
		return
	}
	p := principal(r.Context())
	res, err := a.store.Transition(r.Context(), store.Change{
		CommentID: id, Action: action, ActorID: p.UserID, ActorRole: string(p.Role), Reason: reason,
	})
	if err != nil {
		if errors.Is(err, store.ErrInvalidTransition) {
			a.m.moderation.WithLabelValues(string(action), "invalid_transition").Inc()
		}
		a.storeError(w, r, err)
		return
	}
	a.changed(string(action), res.Changed)
	httpapi.WriteJSON(w, http.StatusOK, ActionResult{Changed: res.Changed, Comment: res.Comment.Moderated()})
}

// readReason reads the optional {"reason"} body; a reject needs one.
func (a *API) readReason(w http.ResponseWriter, r *http.Request, action store.Action) (string, *apiError) {
	var rb reasonBody
	if aerr := readJSON(w, r, true, &rb); aerr != nil {
		return "", aerr
	}
	return checkReason(rb.Reason, action)
}

func checkReason(raw *string, action store.Action) (string, *apiError) {
	var reason string
	if raw != nil {
		var err error
		if reason, err = validate.Reason(*raw); err != nil {
			return "", fromValidation(err)
		}
	}
	if action == store.Reject && reason == "" {
		return "", badRequest(validate.CodeReasonRequired, "a reject needs a non-empty \"reason\"")
	}
	return reason, nil
}

// batchRequest is the body of POST /v1/mod/comments:batch.
type batchRequest struct {
	Action string            `json:"action"`
	IDs    []json.RawMessage `json:"ids"`
	Reason *string           `json:"reason"`
}

// BatchItem is the result for one id of a batch.
type BatchItem struct {
	ID      string               `json:"id"`
	OK      bool                 `json:"ok"`
	Changed bool                 `json:"changed,omitempty"`
	Comment *comment.Moderated   `json:"comment,omitempty"`
	Error   *httpapi.ErrorDetail `json:"error,omitempty"`
}

// BatchResult is the body of a batch response.
type BatchResult struct {
	Results   []BatchItem `json:"results"`
	Succeeded int         `json:"succeeded"`
	Failed    int         `json:"failed"`
}

// batch applies one action to up to MaxBatchIDs comments, each in its own
// transaction, and reports per id. The request as a whole fails only when
// it is malformed; a bad or missing id fails just its own item.
func (a *API) batch(w http.ResponseWriter, r *http.Request) {
	var req batchRequest
	if aerr := readJSON(w, r, false, &req); aerr != nil {
		aerr.write(w)
		return
	}
	action, ok := store.ParseAction(req.Action)
	if !ok {
		badRequest("invalid_action", "action must be approve, reject or delete").write(w)
		return
	}
	switch n := len(req.IDs); {
	case n == 0:
		badRequest("ids_required", "ids must list 1 to %d comment ids", MaxBatchIDs).write(w)
		return
	case n > MaxBatchIDs:
		badRequest("too_many_ids", "ids lists %d comment ids; at most %d are allowed", n, MaxBatchIDs).write(w)
		return
	}
	reason, aerr := checkReason(req.Reason, action)
	if aerr != nil {
		aerr.write(w)
		return
	}
	// Every id is a string; two that decode to the same text are the same
	// id however they were escaped.
	ids := make([]string, 0, len(req.IDs))
	seen := map[string]bool{}
	for i, raw := range req.IDs {
		id, isString, err := validate.JSONString(raw)
		if !isString {
			badRequest("invalid_comment_id", "ids[%d] is not a string; ids are comment ids, positive decimal integers in strings", i).write(w)
			return
		}
		if err != nil {
			fromValidation(err).write(w)
			return
		}
		if seen[id] {
			badRequest("duplicate_ids", "id %q is listed twice", id).write(w)
			return
		}
		seen[id] = true
		ids = append(ids, id)
	}

	p := principal(r.Context())
	out := BatchResult{Results: make([]BatchItem, 0, len(ids))}
	for _, s := range ids {
		item := a.batchOne(r, s, action, reason, p.UserID, string(p.Role))
		if item.OK {
			out.Succeeded++
		} else {
			out.Failed++
		}
		out.Results = append(out.Results, item)
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

// batchOne applies the action to one listed id; a string that is not a
// comment id fails its own item.
func (a *API) batchOne(r *http.Request, s string, action store.Action, reason string, actor int64, role string) BatchItem {
	id, err := comment.ParseID(s)
	if err != nil {
		return BatchItem{ID: s, Error: &httpapi.ErrorDetail{Code: "invalid_comment_id", Message: "ids are positive decimal integers in strings"}}
	}
	item := BatchItem{ID: s}
	res, err := a.store.Transition(r.Context(), store.Change{CommentID: id, Action: action, ActorID: actor, ActorRole: role, Reason: reason})
	switch {
	case errors.Is(err, store.ErrNotFound):
		item.Error = &httpapi.ErrorDetail{Code: "comment_not_found", Message: "no comment has this id"}
	case errors.Is(err, store.ErrInvalidTransition):
		a.m.moderation.WithLabelValues(string(action), "invalid_transition").Inc()
		item.Error = &httpapi.ErrorDetail{Code: "invalid_transition", Message: err.Error()}
	case err != nil:
		a.log.Error("batch moderation failed", "comment", id, "err", err)
		item.Error = &httpapi.ErrorDetail{Code: "unavailable", Message: "storage is unavailable; retry this id"}
	default:
		a.changed(string(action), res.Changed)
		m := res.Comment.Moderated()
		item.OK, item.Changed, item.Comment = true, res.Changed, &m
	}
	return item
}

// banRequest is the optional body of POST /v1/mod/users/{id}:ban.
type banRequest struct {
	Reason          *string `json:"reason"`
	DurationSeconds *int64  `json:"duration_seconds"` // absent: permanent
}

// BanStatus is the body of a ban or unban response.
type BanStatus struct {
	UserID    string  `json:"user_id"`
	Banned    bool    `json:"banned"`
	Reason    string  `json:"reason,omitempty"`
	ExpiresAt *string `json:"expires_at"` // RFC 3339; null: permanent (or not banned)
	WasBanned *bool   `json:"was_banned,omitempty"`
}

// userAction serves POST /v1/mod/users/{id}:ban and :unban.
func (a *API) userAction(w http.ResponseWriter, r *http.Request) {
	userID, action, ok := routeAction(w, r, "user", "ban", "unban")
	if !ok {
		return
	}
	if action == "unban" {
		// An unban takes at most an empty object: a field, even null, is refused.
		var none struct{}
		if aerr := readJSON(w, r, true, &none); aerr != nil {
			aerr.write(w)
			return
		}
		was, err := a.store.Unban(r.Context(), userID)
		if err != nil {
			a.unavailable(w, r, "storage", err)
			return
		}
		a.m.bans.WithLabelValues(action).Inc()
		httpapi.WriteJSON(w, http.StatusOK, BanStatus{UserID: comment.FormatID(userID), WasBanned: &was})
		return
	}
	var req banRequest
	if aerr := readJSON(w, r, true, &req); aerr != nil {
		aerr.write(w)
		return
	}
	reason, aerr := checkReason(req.Reason, store.Action("ban"))
	if aerr != nil {
		aerr.write(w)
		return
	}
	b := store.Ban{UserID: userID, Reason: reason, BannedBy: principal(r.Context()).UserID}
	if d := req.DurationSeconds; d != nil {
		if *d < 1 || *d > MaxBanSeconds {
			badRequest("invalid_duration", "duration_seconds must be from 1 to %d (or absent: permanent)", MaxBanSeconds).write(w)
			return
		}
		t := time.Now().Add(time.Duration(*d) * time.Second)
		b.ExpiresAt = &t
	}
	saved, err := a.store.Ban(r.Context(), b)
	if err != nil {
		a.unavailable(w, r, "storage", err)
		return
	}
	st := BanStatus{UserID: comment.FormatID(userID), Banned: true, Reason: saved.Reason}
	if saved.ExpiresAt != nil {
		s := saved.ExpiresAt.UTC().Format(time.RFC3339Nano)
		st.ExpiresAt = &s
	}
	a.m.bans.WithLabelValues(action).Inc()
	httpapi.WriteJSON(w, http.StatusOK, st)
}
