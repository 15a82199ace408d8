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
// replayed if its Idempotency-Key was seen, rate-limited, then stored with
// its outbox event in one transaction. 202 means committed in MySQL.
func (a *API) postComment(w http.ResponseWriter, r *http.Request) {
	p := principal(r.Context())
	videoID, err := comment.ParseID(chi.URLParam(r, "video_id"))
	if err != nil {
		badRequest("invalid_video_id", "the video id must be a positive decimal integer").write(w)
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

	dec, err := a.limiter.Allow(r.Context(), p.UserID)
	if err != nil {
		a.unavailable(w, r, "the rate limiter", err)
		return
	}
	if !dec.Allowed {
		w.Header().Set("Retry-After", retryAfterSeconds(dec.RetryAfter))
		httpapi.WriteError(w, http.StatusTooManyRequests, "rate_limited", "too many comments; retry after the time in Retry-After")
		return
	}

	created, err := a.store.Create(r.Context(), store.Post{
		VideoID: videoID, UserID: p.UserID, ParentID: parentID, Content: content, Status: a.cfg.Moderation,
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
	id, err := comment.ParseID(chi.URLParam(r, "id"))
	if err != nil {
		badRequest("invalid_comment_id", "the comment id must be a positive decimal integer").write(w)
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
	a.changed(store.Delete, res)
	httpapi.WriteJSON(w, http.StatusOK, Accepted{ID: comment.FormatID(id), Status: res.Comment.Status})
}

// changed counts a moderation outcome and wakes the relay.
func (a *API) changed(action store.Action, res store.Changed) {
	if res.Changed {
		a.outbox.Notify()
		a.m.moderation.WithLabelValues(string(action), "changed").Inc()
	} else {
		a.m.moderation.WithLabelValues(string(action), "unchanged").Inc()
	}
}

// storeError maps a store error to its response.
func (a *API) storeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *apiError
	switch {
	case errors.Is(err, store.ErrBanned):
		e = &apiError{http.StatusForbidden, "banned", "this user is banned from posting"}
	case errors.Is(err, store.ErrNotAuthor):
		e = &apiError{http.StatusForbidden, "not_author", "only the author or a moderator may delete this comment"}
	case errors.Is(err, store.ErrNotFound):
		e = &apiError{http.StatusNotFound, "comment_not_found", "no comment has this id"}
	case errors.Is(err, store.ErrInvalidTransition):
		e = &apiError{http.StatusConflict, "invalid_transition", err.Error()}
	case errors.Is(err, store.ErrParentNotFound):
		e = &apiError{http.StatusUnprocessableEntity, "parent_not_found", "parent_id names no live comment"}
	case errors.Is(err, store.ErrParentNotApproved):
		e = &apiError{http.StatusUnprocessableEntity, "parent_not_approved", "the parent comment is waiting for moderation; replies need an approved parent"}
	case errors.Is(err, store.ErrParentOtherVideo):
		e = &apiError{http.StatusUnprocessableEntity, "parent_other_video", "the parent comment belongs to another video"}
	case errors.Is(err, store.ErrIdempotencyConflict):
		e = conflictingKey()
	case errors.Is(err, store.ErrEditWindowClosed):
		e = &apiError{http.StatusConflict, "edit_window_closed", "comments can only be edited for a while after posting"}
	case errors.Is(err, store.ErrNotEditable):
		e = &apiError{http.StatusConflict, "not_editable", "a rejected or deleted comment cannot be edited"}
	case errors.Is(err, store.ErrPinOtherVideo):
		e = &apiError{http.StatusUnprocessableEntity, "comment_other_video", "the comment belongs to another video"}
	case errors.Is(err, store.ErrPinNotRoot):
		e = &apiError{http.StatusUnprocessableEntity, "pin_not_root", "only a root comment can be pinned, not a reply"}
	case errors.Is(err, store.ErrPinNotApproved):
		e = &apiError{http.StatusUnprocessableEntity, "pin_not_approved", "only an approved comment can be pinned"}
	case errors.Is(err, nodelease.ErrNotHeld):
		a.unavailable(w, r, "comment id minting", err)
		return
	default:
		a.unavailable(w, r, "storage", err)
		return
	}
	e.write(w)
}
