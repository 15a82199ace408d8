package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/httpapi"
	"github.com/vidcomments/vidcomments/writesvc/store"
	"github.com/vidcomments/vidcomments/writesvc/validate"
)

// LikeResult is the body of PUT and DELETE /v1/comments/{id}/like.
type LikeResult struct {
	CommentID string `json:"comment_id"`
	Liked     bool   `json:"liked"`
}

// like serves PUT (like) and DELETE (unlike) /v1/comments/{id}/like. Both
// are idempotent: repeating one answers the same and writes nothing. Only
// approved comments can be liked: anything else is 404, as for readers.
func (a *API) like(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, chi.URLParam(r, "id"), "comment")
	if !ok {
		return
	}
	liked := r.Method == http.MethodPut
	res, err := a.store.SetLike(r.Context(), store.Like{CommentID: id, UserID: principal(r.Context()).UserID, Liked: liked})
	if err != nil {
		if errors.Is(err, store.ErrBanned) {
			httpapi.WriteError(w, http.StatusForbidden, "banned", "this user is banned from liking")
			return
		}
		a.storeError(w, r, err)
		return
	}
	result := "unchanged"
	if res.Changed {
		result = "changed"
		a.outbox.Notify()
	}
	action := "unlike"
	if liked {
		action = "like"
	}
	a.m.likes.WithLabelValues(action, result).Inc()
	httpapi.WriteJSON(w, http.StatusOK, LikeResult{CommentID: comment.FormatID(id), Liked: liked})
}

// editRequest is the body of PATCH /v1/comments/{id}.
type editRequest struct {
	Content json.RawMessage `json:"content"`
}

// EditResult is the body of an edit.
type EditResult struct {
	ID       string         `json:"id"`
	Status   comment.Status `json:"status"`
	Changed  bool           `json:"changed"`
	EditedAt string         `json:"edited_at,omitempty"` // RFC 3339, ms; absent if never edited
}

// editComment serves PATCH /v1/comments/{id}: the author replaces the
// content within the edit window (validated as a post, rate-limited and
// content-checked as a post, but never held: see checkEdit). Another user
// is 403 not_author; after the window 409 edit_window_closed.
func (a *API) editComment(w http.ResponseWriter, r *http.Request) {
	p := principal(r.Context())
	id, ok := pathID(w, chi.URLParam(r, "id"), "comment")
	if !ok {
		return
	}
	var req editRequest
	if err := readJSON(w, r, false, &req); err != nil {
		err.write(w)
		return
	}
	content, _, verr := a.validatePost(postRequest{Content: req.Content})
	if verr != nil {
		verr.write(w)
		return
	}
	if !a.allowPost(w, r, p.UserID) || !a.checkEdit(w, r, p.UserID, id, content) {
		return
	}
	res, err := a.store.Edit(r.Context(), store.Edit{CommentID: id, UserID: p.UserID, Content: content, Window: a.cfg.EditWindow})
	switch {
	case errors.Is(err, store.ErrNotAuthor):
		httpapi.WriteError(w, http.StatusForbidden, "not_author", "only the author may edit this comment")
		return
	case err != nil:
		a.storeError(w, r, err)
		return
	}
	if res.Changed {
		a.outbox.Notify()
		a.m.edits.Inc()
	}
	out := EditResult{ID: comment.FormatID(id), Status: res.Comment.Status, Changed: res.Changed}
	if !res.Comment.EditedAt.IsZero() {
		out.EditedAt = comment.FormatTime(res.Comment.EditedAt)
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

// pinRequest is the body of PUT /v1/mod/videos/{video_id}/pin.
type pinRequest struct {
	CommentID json.RawMessage `json:"comment_id"`
}

// PinResult is the body of a pin or unpin.
type PinResult struct {
	VideoID   string  `json:"video_id"`
	CommentID *string `json:"comment_id"` // null: nothing pinned
	Changed   bool    `json:"changed"`
	Version   string  `json:"version"` // of the video's pin; "0" if never pinned
}

// pin serves PUT (pin, replacing any pinned comment) and DELETE (unpin)
// /v1/mod/videos/{video_id}/pin, for moderators.
func (a *API) pin(w http.ResponseWriter, r *http.Request) {
	videoID, ok := pathID(w, chi.URLParam(r, "video_id"), "video")
	if !ok {
		return
	}
	var commentID int64
	if r.Method == http.MethodPut {
		var req pinRequest
		if err := readJSON(w, r, false, &req); err != nil {
			err.write(w)
			return
		}
		s, isString, _ := validate.JSONString(req.CommentID)
		id, err := comment.ParseID(s)
		if isNull(req.CommentID) || !isString || err != nil {
			badRequest("invalid_comment_id", "comment_id must be a comment id: a positive decimal integer in a string").write(w)
			return
		}
		commentID = id
	}
	res, err := a.store.Pin(r.Context(), store.PinChange{VideoID: videoID, CommentID: commentID, ActorID: principal(r.Context()).UserID})
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	action := "unpin"
	if commentID != 0 {
		action = "pin"
	}
	a.changed(action, res.Changed)
	out := PinResult{VideoID: comment.FormatID(videoID), Changed: res.Changed, Version: comment.FormatID(res.Pin.Version)}
	if res.Pin.Version == 0 {
		out.Version = "0"
	}
	if res.Pin.CommentID != 0 {
		s := comment.FormatID(res.Pin.CommentID)
		out.CommentID = &s
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}
