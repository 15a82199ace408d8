package api

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/vidcomments/vidcomments/internal/auth"
	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/httpapi"
	"github.com/vidcomments/vidcomments/writesvc/nodelease"
	"github.com/vidcomments/vidcomments/writesvc/safety"
	"github.com/vidcomments/vidcomments/writesvc/store"
	"github.com/vidcomments/vidcomments/writesvc/validate"
)

// postRequest is the body of POST /v1/videos/{video_id}/comments. Both
// fields are decoded raw so that a missing field, null, a wrong type and a
// string encoding/json would silently repair are told apart.
type postRequest struct {
	Content  json.RawMessage `json:"content"`
	ParentID json.RawMessage `json:"parent_id"`
}

// Accepted is the 202 body of a post.
type Accepted struct {
	ID     string         `json:"id"`
	Status comment.Status `json:"status"`
}

func isNull(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }

// postComment accepts a comment: authenticated (middleware), validated,
// replayed if its Idempotency-Key was seen, rate-limited, checked for
// content safety (refused: 422; held: stored pending), then stored with
// its outbox event in one transaction. 202 means committed in MySQL.
func (a *API) postComment(w http.ResponseWriter, r *http.Request) {
	p := principal(r.Context())
	videoID, ok := pathID(w, chi.URLParam(r, "video_id"), "video")
	if !ok {
		return
	}
	key, kerr := idempotencyKey(r.Header)
	if kerr != nil {
		kerr.write(w)
		return
	}
	var req postRequest
	if err := readJSON(w, r, false, &req); err != nil {
		err.write(w)
		return
	}
	content, parentID, verr := a.validatePost(req)
	if verr != nil {
		verr.write(w)
		return
	}
	hash := requestHash(videoID, parentID, content)

	if key != "" {
		st, ok, err := a.store.Idempotent(r.Context(), p.UserID, key)
		if err != nil {
			a.unavailable(w, r, "storage", err)
			return
		}
		if ok {
			a.replay(w, st, hash)
			return
		}
	}

	if !a.allowPost(w, r, p.UserID) {
		return
	}
	verdict, ok := a.checkSafety(w, r, safety.Comment{UserID: p.UserID, VideoID: videoID, ParentID: parentID, Content: content})
	if !ok {
		return
	}
	if verdict.Action == safety.Refuse {
		// A retry racing its own first request (same key) may find that
		// request's comment and call it a duplicate: it is a replay.
		if key != "" {
			if st, ok, err := a.store.Idempotent(r.Context(), p.UserID, key); err == nil && ok {
				a.replay(w, st, hash)
				return
			}
		}
		refuse(w, verdict)
		return
	}
	status := a.cfg.Moderation
	if verdict.Action == safety.Hold {
		status = comment.Pending // held for review, also under post-moderation
	}

	created, err := a.store.Create(r.Context(), store.Post{
		VideoID: videoID, UserID: p.UserID, ParentID: parentID, Content: content, Status: status,
		Safety:         store.Safety{Verdict: string(verdict.Action), Reason: verdict.Reason, Detail: verdict.Detail},
		IdempotencyKey: key, RequestHash: hash, Response: renderAccepted,
	})
	switch {
	case errors.Is(err, store.ErrIdempotencyConflict):
		conflictingKey().write(w)
		return
	case err != nil:
		a.storeError(w, r, err)
		return
	case created.Replayed:
		a.m.replays.Inc()
		w.Header().Set("Idempotent-Replayed", "true")
		writeRaw(w, created.Code, created.Body)
		return
	}
	a.outbox.Notify()
	a.m.accepted.WithLabelValues(string(created.Comment.Status)).Inc()
	writeRaw(w, created.Code, created.Body)
}

func (a *API) replay(w http.ResponseWriter, st store.Stored, hash [32]byte) {
	if !st.Matches(hash) {
		conflictingKey().write(w)
		return
	}
	a.m.replays.Inc()
	w.Header().Set("Idempotent-Replayed", "true")
	writeRaw(w, st.Code, st.Body)
}

func conflictingKey() *apiError {
	return &apiError{http.StatusConflict, "idempotency_key_reused", "this Idempotency-Key was used with another request"}
}

// renderAccepted is the response stored with the comment, and replayed.
func renderAccepted(c comment.Comment) (int, []byte) {
	b, _ := json.Marshal(Accepted{ID: comment.FormatID(c.ID), Status: c.Status})
	return http.StatusAccepted, append(b, '\n')
}

func writeRaw(w http.ResponseWriter, code int, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

func idempotencyKey(h http.Header) (string, *apiError) {
	values := h.Values("Idempotency-Key")
	switch len(values) {
	case 0:
		return "", nil
	case 1:
		if err := validate.IdempotencyKey(values[0]); err != nil {
			return "", fromValidation(err)
		}
		return values[0], nil
	}
	return "", badRequest(validate.CodeInvalidIdempotencyKey, "send one Idempotency-Key header, not %d", len(values))
}

func (a *API) validatePost(req postRequest) (content string, parentID int64, _ *apiError) {
	if isNull(req.Content) {
		return "", 0, badRequest(validate.CodeContentRequired, "the body needs a \"content\" string")
	}
	raw, isString, err := validate.JSONString(req.Content)
	if !isString {
		return "", 0, badRequest("invalid_field", "field \"content\" must be a string")
	}
	if err != nil {
		return "", 0, fromValidation(err)
	}
	content, err = validate.Content(raw, a.cfg.MaxRunes)
	if err != nil {
		return "", 0, fromValidation(err)
	}
	if !isNull(req.ParentID) {
		s, isString, _ := validate.JSONString(req.ParentID)
		id, err := comment.ParseID(s)
		if !isString || err != nil {
			return "", 0, badRequest("invalid_parent_id", "parent_id must be a comment id: a positive decimal integer in a string")
		}
		parentID = id
	}
	return content, parentID, nil
}

// requestHash identifies a post for Idempotency-Key: the same video, parent
// and normalised content is the same request, however the JSON was spelled.
func requestHash(videoID, parentID int64, content string) [32]byte {
	h := sha256.New()
	var ids [16]byte
	binary.BigEndian.PutUint64(ids[:8], uint64(videoID))
	binary.BigEndian.PutUint64(ids[8:], uint64(parentID))
	h.Write(ids[:])
	h.Write([]byte(content))
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// deleteComment deletes a comment for its author or a moderator.
func (a *API) deleteComment(w http.ResponseWriter, r *http.Request) {
	p := principal(r.Context())
	id, ok := pathID(w, chi.URLParam(r, "id"), "comment")
	if !ok {
		return
	}
	res, err := a.store.Transition(r.Context(), store.Change{
		CommentID: id, Action: store.Delete, ActorID: p.UserID, ActorRole: string(p.Role),
		AuthorOnly: p.Role != auth.RoleModerator,
	})
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	a.changed(string(store.Delete), res.Changed)
	httpapi.WriteJSON(w, http.StatusOK, Accepted{ID: comment.FormatID(id), Status: res.Comment.Status})
}

// changed counts a moderation outcome (pins and unpins included) and, when
// something changed, wakes the relay.
func (a *API) changed(action string, changed bool) {
	if changed {
		a.outbox.Notify()
		a.m.moderation.WithLabelValues(action, "changed").Inc()
	} else {
		a.m.moderation.WithLabelValues(action, "unchanged").Inc()
	}
}

// storeErrors are the store's errors a client causes and their responses,
// matched in order with errors.Is. A message "" is the error's own.
var storeErrors = []struct {
	err error
	res apiError
}{
	{store.ErrBanned, apiError{http.StatusForbidden, "banned", "this user is banned from posting"}},
	{store.ErrNotAuthor, apiError{http.StatusForbidden, "not_author", "only the author or a moderator may delete this comment"}},
	{store.ErrNotFound, apiError{http.StatusNotFound, "comment_not_found", "no comment has this id"}},
	{store.ErrInvalidTransition, apiError{http.StatusConflict, "invalid_transition", ""}},
	{store.ErrParentNotFound, apiError{http.StatusUnprocessableEntity, "parent_not_found", "parent_id names no live comment"}},
	{store.ErrParentNotApproved, apiError{http.StatusUnprocessableEntity, "parent_not_approved", "the parent comment is waiting for moderation; replies need an approved parent"}},
	{store.ErrParentOtherVideo, apiError{http.StatusUnprocessableEntity, "parent_other_video", "the parent comment belongs to another video"}},
	{store.ErrIdempotencyConflict, *conflictingKey()},
	{store.ErrEditWindowClosed, apiError{http.StatusConflict, "edit_window_closed", "comments can only be edited for a while after posting"}},
	{store.ErrNotEditable, apiError{http.StatusConflict, "not_editable", "a rejected or deleted comment cannot be edited"}},
	{store.ErrPinOtherVideo, apiError{http.StatusUnprocessableEntity, "comment_other_video", "the comment belongs to another video"}},
	{store.ErrPinNotRoot, apiError{http.StatusUnprocessableEntity, "pin_not_root", "only a root comment can be pinned, not a reply"}},
	{store.ErrPinNotApproved, apiError{http.StatusUnprocessableEntity, "pin_not_approved", "only an approved comment can be pinned"}},
}

// clientError returns the response to a store error of storeErrors, or nil
// for any other: a dependency failing.
func clientError(err error) *apiError {
	for _, m := range storeErrors {
		if errors.Is(err, m.err) {
			e := m.res
			if e.message == "" {
				e.message = err.Error()
			}
			return &e
		}
	}
	return nil
}

// storeError maps a store error to its response: a client error, or a 503
// naming what failed.
func (a *API) storeError(w http.ResponseWriter, r *http.Request, err error) {
	if e := clientError(err); e != nil {
		e.write(w)
		return
	}
	what := "storage"
	if errors.Is(err, nodelease.ErrNotHeld) {
		what = "comment id minting"
	}
	a.unavailable(w, r, what, err)
}
