// Package safety decides, before a comment is staged, whether it may be
// posted: allowed (stored as moderation would store it), held for review
// (stored pending, whatever the moderation mode, so it enters the queue) or
// refused (not stored; the client gets a 422 with the reason code).
//
// A Checker is one decision; a Chain asks its checkers in order and stops
// at the first that does not allow. Rules (rules.go) are the built-in,
// deterministic rules — blocked words, patterns, links, repeated
// characters, duplicates per user — pure except for the small Recent
// lookup the duplicate rule needs. Classifier (classifier.go) asks an HTTP
// service, bounded by a timeout, and falls back by configuration when it
// cannot answer: fail-open allows, fail-closed holds. An outage never
// refuses a comment.
package safety

import (
	"context"
	"errors"
	"fmt"
)

// Action is what becomes of a comment.
type Action string

// The actions, weakest first.
const (
	Allow  Action = "allow"
	Hold   Action = "hold"
	Refuse Action = "refuse"
)

// Actions lists every action, for metric series that exist from the start.
var Actions = []Action{Allow, Hold, Refuse}

// ParseAction reads an action's name.
func ParseAction(s string) (Action, error) {
	switch a := Action(s); a {
	case Allow, Hold, Refuse:
		return a, nil
	}
	return "", fmt.Errorf("safety action %q: want allow, hold or refuse", s)
}

// Reason codes: stable, machine-readable, a bounded set (they are metric
// label values). "" is an allow no rule had anything to say about.
const (
	ReasonBlockedWord           = "blocked_word"
	ReasonBlockedPattern        = "blocked_pattern"
	ReasonTooManyLinks          = "too_many_links"
	ReasonRepeatedChars         = "repeated_chars"
	ReasonDuplicate             = "duplicate"
	ReasonClassifier            = "classifier"             // the classifier's own verdict; its words in Detail
	ReasonClassifierUnavailable = "classifier_unavailable" // timeout or error: the configured fallback
)

// Verdict is a checker's decision.
type Verdict struct {
	Action Action
	Reason string // a Reason… code; "" for a plain allow
	Detail string // for moderators: what matched, what the classifier said (≤ MaxDetail bytes)
}

// MaxDetail bounds Verdict.Detail (the column is VARCHAR(255)).
const MaxDetail = 255

// Allowed is the verdict of a comment nothing objects to.
var Allowed = Verdict{Action: Allow}

// Comment is what a checker sees of a post, or of an edit: its content
// already validated and NFC-normalised (writesvc/validate).
type Comment struct {
	UserID    int64
	VideoID   int64 // 0 for an edit (the API does not read the row before the edit)
	ParentID  int64
	CommentID int64 // the comment an edit changes; 0 for a new post
	Content   string
}

// Checker decides about one comment. An error means the decision could not
// be made because a dependency failed (the post is answered 503); a checker
// with a fallback of its own (Classifier) never returns one.
type Checker interface {
	Check(ctx context.Context, c Comment) (Verdict, error)
}

// Chain asks its checkers in order and returns the first verdict that is
// not Allow. When all allow, it returns the last allow that carried a
// reason (a classifier failing open), so that it is stored and counted.
type Chain []Checker

// Check implements Checker.
func (ch Chain) Check(ctx context.Context, c Comment) (Verdict, error) {
	out := Allowed
	for _, k := range ch {
		v, err := k.Check(ctx, c)
		if err != nil {
			return Verdict{}, err
		}
		if v.Action != Allow {
			return v, nil
		}
		if v.Reason != "" {
			out = v
		}
	}
	return out, nil
}

// Close closes the checkers that hold resources (the classifier's idle
// connections).
func (ch Chain) Close() error {
	var errs []error
	for _, k := range ch {
		if c, ok := k.(interface{ Close() error }); ok {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}

// clip cuts s to at most n bytes on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
