package safety

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Defaults of the rules: nothing is blocked until configured, and the
// limits are generous enough that no ordinary comment meets them.
const (
	DefaultMaxLinks        = 5
	DefaultMaxRepeat       = 40
	DefaultDuplicateWindow = 10 * time.Minute
)

// RulesConfig configures Rules. A zero limit turns its rule off.
type RulesConfig struct {
	BlockedWords    []string      // refused: each a word or phrase, matched case-insensitively on word boundaries
	Patterns        []string      // refused: RE2 expressions matched against the content ((?i) for case-insensitive)
	MaxLinks        int           // held: more than this many links (http://, https://, www.)
	MaxRepeat       int           // held: a run of more than this many identical characters
	DuplicateWindow time.Duration // refused: the same content by the same user under the same parent of the same video within this long
}

// Recent answers the duplicate rule: whether userID posted exactly content
// on videoID under parentID (0: as a root comment) at or after since
// (writesvc's store asks MySQL). The parent is part of the question: the
// same "thanks!" under two different comments is no spam.
type Recent interface {
	PostedSince(ctx context.Context, userID, videoID, parentID int64, content string, since time.Time) (bool, error)
}

// Rules is the built-in rule set. It is pure but for Recent and the clock.
type Rules struct {
	cfg      RulesConfig
	words    []string // NFC, lower-cased
	patterns []*regexp.Regexp
	recent   Recent
	now      func() time.Time
}

// links finds what counts as a link.
var links = regexp.MustCompile(`(?i)(?:\bhttps?://|\bwww\.)[^\s]+`)

// NewRules compiles cfg. recent may be nil only when the duplicate rule is
// off; now nil means time.Now.
func NewRules(cfg RulesConfig, recent Recent, now func() time.Time) (*Rules, error) {
	if cfg.MaxLinks < 0 || cfg.MaxRepeat < 0 || cfg.DuplicateWindow < 0 {
		return nil, fmt.Errorf("safety rules: max links %d, max repeat %d, duplicate window %v: want non-negative values",
			cfg.MaxLinks, cfg.MaxRepeat, cfg.DuplicateWindow)
	}
	if cfg.DuplicateWindow > 0 && recent == nil {
		return nil, fmt.Errorf("safety rules: the duplicate rule needs a Recent lookup")
	}
	if now == nil {
		now = time.Now
	}
	r := &Rules{cfg: cfg, recent: recent, now: now}
	for _, w := range cfg.BlockedWords {
		if w = fold(strings.TrimSpace(w)); w != "" {
			r.words = append(r.words, w)
		}
	}
	for _, p := range cfg.Patterns {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("safety pattern %q: %w", p, err)
		}
		r.patterns = append(r.patterns, re)
	}
	return r, nil
}

// fold is the form blocked words are compared in.
func fold(s string) string { return strings.ToLower(norm.NFC.String(s)) }

// Check implements Checker: the refusing rules first (blocked words,
// patterns, duplicates), then the holding ones (links, repeated
// characters).
func (r *Rules) Check(ctx context.Context, c Comment) (Verdict, error) {
	if w, ok := r.blockedWord(c.Content); ok {
		return Verdict{Action: Refuse, Reason: ReasonBlockedWord, Detail: clip(w, MaxDetail)}, nil
	}
	for _, re := range r.patterns {
		if re.MatchString(c.Content) {
			return Verdict{Action: Refuse, Reason: ReasonBlockedPattern, Detail: clip(re.String(), MaxDetail)}, nil
		}
	}
	if r.cfg.DuplicateWindow > 0 && c.CommentID == 0 { // an edit's content is no repeat post
		dup, err := r.recent.PostedSince(ctx, c.UserID, c.VideoID, c.ParentID, c.Content, r.now().Add(-r.cfg.DuplicateWindow))
		if err != nil {
			return Verdict{}, fmt.Errorf("safety duplicate check: %w", err)
		}
		if dup {
			return Verdict{Action: Refuse, Reason: ReasonDuplicate,
				Detail: fmt.Sprintf("posted here within %v", r.cfg.DuplicateWindow)}, nil
		}
	}
	if r.cfg.MaxLinks > 0 {
		if n := len(links.FindAllStringIndex(c.Content, -1)); n > r.cfg.MaxLinks {
			return Verdict{Action: Hold, Reason: ReasonTooManyLinks, Detail: fmt.Sprintf("%d links; the limit is %d", n, r.cfg.MaxLinks)}, nil
		}
	}
	if r.cfg.MaxRepeat > 0 {
		if ch, ok := longRun(c.Content, r.cfg.MaxRepeat); ok {
			return Verdict{Action: Hold, Reason: ReasonRepeatedChars,
				Detail: fmt.Sprintf("%q repeated more than %d times", ch, r.cfg.MaxRepeat)}, nil
		}
	}
	return Allowed, nil
}

// blockedWord returns the first blocked word or phrase content contains
// with a word boundary on both sides.
func (r *Rules) blockedWord(content string) (string, bool) {
	if len(r.words) == 0 {
		return "", false
	}
	s := fold(content)
	for _, w := range r.words {
		for from := 0; from < len(s); {
			i := strings.Index(s[from:], w)
			if i < 0 {
				break
			}
			start, end := from+i, from+i+len(w)
			if boundaryBefore(s, start) && boundaryAfter(s, end) {
				return w, true
			}
			_, size := utf8.DecodeRuneInString(s[start:])
			from = start + size
		}
	}
	return "", false
}

// isWord reports whether r belongs to a word: letters, digits and marks
// (so "é" written with a combining accent is one word).
func isWord(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || r == '_'
}

func boundaryBefore(s string, i int) bool {
	if i == 0 {
		return true
	}
	prev, _ := utf8.DecodeLastRuneInString(s[:i])
	first, _ := utf8.DecodeRuneInString(s[i:])
	return !isWord(prev) || !isWord(first)
}

func boundaryAfter(s string, i int) bool {
	if i == len(s) {
		return true
	}
	last, _ := utf8.DecodeLastRuneInString(s[:i])
	next, _ := utf8.DecodeRuneInString(s[i:])
	return !isWord(next) || !isWord(last)
}

// longRun returns a character repeated more than max times in a row.
func longRun(s string, max int) (rune, bool) {
	var prev rune = -1
	n := 0
	for _, r := range s {
		if r == prev {
			n++
		} else {
			prev, n = r, 1
		}
		if n > max {
			return r, true
		}
	}
	return 0, false
}
