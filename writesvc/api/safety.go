package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/httpapi"
	"github.com/vidcomments/vidcomments/writesvc/safety"
	"github.com/vidcomments/vidcomments/writesvc/store"
)

// Safety decides about a post's content before it is staged, and an
// edit's before it is written (writesvc/safety: the rules, then the
// classifier if one is configured).
type Safety interface {
	Check(ctx context.Context, c safety.Comment) (safety.Verdict, error)
}

// SafetyView is a comment's safety verdict in the moderation queue.
type SafetyView struct {
	Verdict string `json:"verdict"` // allow | hold
	Reason  string `json:"reason"`  // a reason code, "" when no rule had anything to say
	Detail  string `json:"detail"`  // what matched, or the classifier's words
}

// QueuedComment is one comment of GET /v1/mod/queue: the moderated view
// and the verdict it was staged with.
type QueuedComment struct {
	comment.Moderated
	Safety SafetyView `json:"safety"`
}

func queued(q store.Queued) QueuedComment {
	return QueuedComment{Moderated: q.Moderated(), Safety: SafetyView{Verdict: q.Safety.Verdict, Reason: q.Safety.Reason, Detail: q.Safety.Detail}}
}

// refusals are the 422 messages of refused posts and edits, by reason code.
var refusals = map[string]string{
	safety.ReasonBlockedWord:    "the comment contains a word or phrase that is not allowed here",
	safety.ReasonBlockedPattern: "the comment contains text that is not allowed here",
	safety.ReasonDuplicate:      "you posted this same comment on this video a moment ago",
	safety.ReasonClassifier:     "the content check refused this comment",
	// an edit that would be held
	safety.ReasonTooManyLinks:  "the comment has too many links for an edit; post it anew to have it reviewed",
	safety.ReasonRepeatedChars: "the comment repeats one character too often for an edit; post it anew to have it reviewed",
}

// checkSafety asks the content-safety checker about a post or an edit and
// counts its verdict. When the checker fails it has answered 503 and ok is
// false.
func (a *API) checkSafety(w http.ResponseWriter, r *http.Request, c safety.Comment) (v safety.Verdict, ok bool) {
	if a.cfg.Safety == nil {
		return safety.Allowed, true
	}
	v, err := a.cfg.Safety.Check(r.Context(), c)
	if err != nil {
		a.unavailable(w, r, "the content check", err)
		return safety.Verdict{}, false
	}
	reason := v.Reason
	if reason == "" {
		reason = "none"
	}
	a.m.safety.WithLabelValues(string(v.Action), reason).Inc()
	return v, true
}

// checkEdit runs the content check on an edit's new content. An edit
// cannot be held for review (the comment keeps its status while its
// content changes), so a hold refuses it as a refusal does — except a
// classifier outage failing closed, which is a 503 to retry: an outage
// never refuses. ok is false when it has answered.
func (a *API) checkEdit(w http.ResponseWriter, r *http.Request, userID, commentID int64, content string) bool {
	v, ok := a.checkSafety(w, r, safety.Comment{UserID: userID, CommentID: commentID, Content: content})
	switch {
	case !ok:
		return false
	case v.Action == safety.Allow:
		return true
	case v.Action == safety.Hold && v.Reason == safety.ReasonClassifierUnavailable:
		a.unavailable(w, r, "the content check", errors.New(v.Detail))
		return false
	}
	refuse(w, v)
	return false
}

// refuse answers a refused post or edit: 422 refused with the reason code.
func refuse(w http.ResponseWriter, v safety.Verdict) {
	msg, known := refusals[v.Reason]
	if !known {
		msg = "this comment is not allowed here"
	}
	httpapi.WriteJSON(w, http.StatusUnprocessableEntity, httpapi.ErrorBody{Error: httpapi.ErrorDetail{
		Code: "refused", Message: msg, Reason: v.Reason,
	}})
}
