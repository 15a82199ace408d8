package safety

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// recentPosts is a Recent over a fixed list of earlier posts.
type recentPosts struct {
	posts []post
	err   error
	asked int
}

type post struct {
	user, video, parent int64
	content             string
	at                  time.Time
}

func (r *recentPosts) PostedSince(_ context.Context, user, video, parent int64, content string, since time.Time) (bool, error) {
	r.asked++
	if r.err != nil {
		return false, r.err
	}
	for _, p := range r.posts {
		if p.user == user && p.video == video && p.parent == parent && p.content == content && !p.at.Before(since) {
			return true, nil
		}
	}
	return false, nil
}

var now = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

func testRules(t *testing.T, cfg RulesConfig, recent Recent) *Rules {
	t.Helper()
	r, err := NewRules(cfg, recent, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRules(t *testing.T) {
	earlier := &recentPosts{posts: []post{
		{user: 1, video: 10, content: "first!", at: now.Add(-time.Minute)},
		{user: 1, video: 10, content: "old news", at: now.Add(-time.Hour)},
		{user: 1, video: 10, parent: 77, content: "thanks!", at: now.Add(-time.Minute)},
	}}
	cfg := RulesConfig{
		BlockedWords:    []string{"spam", "Buy Now", "ß-word", "  ", "Ærgerlig"},
		Patterns:        []string{`(?i)free\s+v-?bucks`, `\b\d{3}-\d{4}\b`},
		MaxLinks:        2,
		MaxRepeat:       5,
		DuplicateWindow: 10 * time.Minute,
	}
	rules := testRules(t, cfg, earlier)
	type want struct {
		action Action
		reason string
	}
	allow := want{Allow, ""}
	cases := []struct {
		name    string
		user    int64
		content string
		want    want
		parent  int64
	}{
		{"plain", 1, "a fine video", allow, 0},
		{"blocked word alone", 1, "spam", want{Refuse, ReasonBlockedWord}, 0},
		{"blocked word in a sentence", 1, "this is spam, sorry", want{Refuse, ReasonBlockedWord}, 0},
		{"blocked word upper case", 1, "SPAM SPAM", want{Refuse, ReasonBlockedWord}, 0},
		{"blocked word mixed case", 1, "what a SpAm", want{Refuse, ReasonBlockedWord}, 0},
		{"blocked word inside a word", 1, "spammer and spamalot", allow, 0},
		{"blocked word as a prefix", 1, "spamming", allow, 0},
		{"blocked word as a suffix", 1, "antispam", allow, 0},
		{"blocked word before punctuation", 1, "no spam!", want{Refuse, ReasonBlockedWord}, 0},
		{"blocked word in quotes", 1, `"spam"`, want{Refuse, ReasonBlockedWord}, 0},
		{"blocked word after a newline", 1, "line\nspam", want{Refuse, ReasonBlockedWord}, 0},
		{"blocked word with underscore is one word", 1, "spam_bot", allow, 0},
		{"blocked word with digits is one word", 1, "spam2", allow, 0},
		{"blocked phrase", 1, "please buy now!", want{Refuse, ReasonBlockedWord}, 0},
		{"blocked phrase other case", 1, "BUY NOW", want{Refuse, ReasonBlockedWord}, 0},
		{"blocked phrase split differently", 1, "buy  now", allow, 0},
		{"blocked phrase inside words", 1, "rebuy nowhere", allow, 0},
		{"blocked word non-ASCII", 1, "det var ærgerlig", want{Refuse, ReasonBlockedWord}, 0},
		{"blocked word non-ASCII upper", 1, "ÆRGERLIG", want{Refuse, ReasonBlockedWord}, 0},
		{"blocked word with punctuation inside", 1, "the ß-word again", want{Refuse, ReasonBlockedWord}, 0},
		{"blocked word before a combining mark is another word", 1, "spam\u0301", allow, 0},
		{"blocked word between letters of another script", 1, "дspamд", allow, 0},
		{"pattern", 1, "get FREE   vbucks here", want{Refuse, ReasonBlockedPattern}, 0},
		{"pattern variant", 1, "free v-bucks", want{Refuse, ReasonBlockedPattern}, 0},
		{"pattern phone number", 1, "call 555-1234 now", want{Refuse, ReasonBlockedPattern}, 0},
		{"pattern near miss", 1, "call 5555-12345", allow, 0},
		{"two links", 1, "see https://a.example and http://b.example", allow, 0},
		{"three links", 1, "https://a.example http://b.example www.c.example", want{Hold, ReasonTooManyLinks}, 0},
		{"three links upper case", 1, "HTTPS://A.EXAMPLE HTTP://B.EXAMPLE WWW.C.EXAMPLE", want{Hold, ReasonTooManyLinks}, 0},
		{"three domains without scheme are not links", 1, "a.example b.example c.example", allow, 0},
		{"scheme inside a word is no link", 1, "xhttp://a xhttp://b xhttp://c", allow, 0},
		{"run at the limit", 1, "nooooo!", allow, 0},
		{"run over the limit", 1, "noooooo!", want{Hold, ReasonRepeatedChars}, 0},
		{"run of punctuation", 1, "what!!!!!!", want{Hold, ReasonRepeatedChars}, 0},
		{"run of emoji", 1, "🔥🔥🔥🔥🔥🔥", want{Hold, ReasonRepeatedChars}, 0},
		{"runs broken up", 1, "ababababababab", allow, 0},
		{"duplicate in the window", 1, "first!", want{Refuse, ReasonDuplicate}, 0},
		{"duplicate by another user", 2, "first!", allow, 0},
		{"duplicate outside the window", 1, "old news", allow, 0},
		{"near duplicate", 1, "first!!", allow, 0},
		{"duplicate reply", 1, "thanks!", want{Refuse, ReasonDuplicate}, 77},
		{"same reply under another parent", 1, "thanks!", allow, 78},
		{"same reply as a root comment", 1, "thanks!", allow, 0},
		{"root comment's content as a reply", 1, "first!", allow, 77},
		{"refusal wins over hold", 1, "spam https://a https://b https://c", want{Refuse, ReasonBlockedWord}, 0},
		{"duplicate wins over hold", 1, "first!", want{Refuse, ReasonDuplicate}, 0},
	}
	if len(cases) < 30 {
		t.Fatalf("%d cases: the rule table wants at least 30", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := rules.Check(context.Background(), Comment{UserID: tc.user, VideoID: 10, ParentID: tc.parent, Content: tc.content})
			if err != nil {
				t.Fatal(err)
			}
			if v.Action != tc.want.action || v.Reason != tc.want.reason {
				t.Errorf("Check(%q) = %s/%s (%s), want %s/%s", tc.content, v.Action, v.Reason, v.Detail, tc.want.action, tc.want.reason)
			}
			if v.Action != Allow && v.Detail == "" {
				t.Errorf("Check(%q): a %s without a detail for the moderator", tc.content, v.Action)
			}
		})
	}
}

// An edit keeps its own content: the duplicate rule does not ask about it;
// every other rule applies.
func TestRulesOnAnEdit(t *testing.T) {
	recent := &recentPosts{posts: []post{{user: 1, video: 10, content: "same", at: now}}}
	rules := testRules(t, RulesConfig{BlockedWords: []string{"spam"}, MaxLinks: 1, DuplicateWindow: time.Hour}, recent)
	for content, want := range map[string]string{"same": "", "spam": ReasonBlockedWord, "www.a www.b": ReasonTooManyLinks} {
		v, err := rules.Check(context.Background(), Comment{UserID: 1, CommentID: 99, Content: content})
		if err != nil || v.Reason != want {
			t.Errorf("edit to %q: %+v, %v; want reason %q", content, v, err, want)
		}
	}
	if recent.asked != 0 {
		t.Errorf("the duplicate rule was asked %d times about edits", recent.asked)
	}
}

func TestRulesDefaults(t *testing.T) {
	recent := &recentPosts{}
	rules := testRules(t, RulesConfig{MaxLinks: DefaultMaxLinks, MaxRepeat: DefaultMaxRepeat, DuplicateWindow: DefaultDuplicateWindow}, recent)
	for _, s := range []string{
		"spam buy now free vbucks", // nothing blocked until configured
		"https://1 https://2 https://3 https://4 https://5",
		strings.Repeat("a", DefaultMaxRepeat),
		"hello " + strings.Repeat("ab", 500),
	} {
		v, err := rules.Check(context.Background(), Comment{UserID: 1, VideoID: 1, Content: s})
		if err != nil || v != Allowed {
			t.Errorf("defaults: Check(%.40q) = %+v, %v; want allowed", s, v, err)
		}
	}
	if recent.asked != 4 {
		t.Errorf("the duplicate rule asked %d times, want 4", recent.asked)
	}
	v, _ := rules.Check(context.Background(), Comment{Content: strings.Repeat("a", DefaultMaxRepeat+1)})
	if v.Reason != ReasonRepeatedChars {
		t.Errorf("a run of %d: %+v", DefaultMaxRepeat+1, v)
	}
}

func TestRulesOff(t *testing.T) {
	rules := testRules(t, RulesConfig{}, nil) // nil Recent: the duplicate rule is off
	v, err := rules.Check(context.Background(), Comment{Content: strings.Repeat("https://x ", 50) + strings.Repeat("!", 500)})
	if err != nil || v != Allowed {
		t.Errorf("no rules: %+v, %v", v, err)
	}
}

func TestRulesRecentFails(t *testing.T) {
	boom := errors.New("mysql down")
	rules := testRules(t, RulesConfig{DuplicateWindow: time.Minute}, &recentPosts{err: boom})
	if _, err := rules.Check(context.Background(), Comment{Content: "x"}); !errors.Is(err, boom) {
		t.Errorf("err = %v, want the lookup's", err)
	}
}

func TestNewRulesRefuses(t *testing.T) {
	for name, cfg := range map[string]RulesConfig{
		"bad pattern":          {Patterns: []string{"(unclosed"}},
		"negative links":       {MaxLinks: -1},
		"negative repeat":      {MaxRepeat: -1},
		"negative window":      {DuplicateWindow: -time.Second},
		"window without store": {DuplicateWindow: time.Second},
	} {
		if _, err := NewRules(cfg, nil, nil); err == nil {
			t.Errorf("%s: NewRules accepted %+v", name, cfg)
		}
	}
}

type fixed struct {
	v     Verdict
	err   error
	asked *int
}

func (f fixed) Check(context.Context, Comment) (Verdict, error) {
	*f.asked++
	return f.v, f.err
}

func TestChain(t *testing.T) {
	openFallback := Verdict{Action: Allow, Reason: ReasonClassifierUnavailable, Detail: "timeout"}
	hold := Verdict{Action: Hold, Reason: ReasonTooManyLinks, Detail: "x"}
	refuse := Verdict{Action: Refuse, Reason: ReasonBlockedWord, Detail: "y"}
	boom := errors.New("boom")
	cases := []struct {
		name   string
		steps  []Verdict
		errAt  int // 1-based; 0: none
		want   Verdict
		asked  int
		wantEr bool
	}{
		{"empty", nil, 0, Allowed, 0, false},
		{"all allow", []Verdict{Allowed, Allowed}, 0, Allowed, 2, false},
		{"allow with a reason kept", []Verdict{Allowed, openFallback}, 0, openFallback, 2, false},
		{"first hold stops", []Verdict{hold, refuse}, 0, hold, 1, false},
		{"refuse after allow", []Verdict{Allowed, refuse}, 0, refuse, 2, false},
		{"error stops", []Verdict{Allowed, Allowed, Allowed}, 2, Verdict{}, 2, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			asked := 0
			var ch Chain
			for i, v := range tc.steps {
				var err error
				if i+1 == tc.errAt {
					err = boom
				}
				ch = append(ch, fixed{v: v, err: err, asked: &asked})
			}
			got, err := ch.Check(context.Background(), Comment{Content: "x"})
			if (err != nil) != tc.wantEr || got != tc.want || asked != tc.asked {
				t.Errorf("Chain = %+v, %v after %d checkers; want %+v after %d", got, err, asked, tc.want, tc.asked)
			}
		})
	}
}

func TestParseAction(t *testing.T) {
	for _, a := range Actions {
		if got, err := ParseAction(string(a)); err != nil || got != a {
			t.Errorf("ParseAction(%q) = %q, %v", a, got, err)
		}
	}
	for _, s := range []string{"", "ALLOW", "block", "refused"} {
		if _, err := ParseAction(s); err == nil {
			t.Errorf("ParseAction(%q) accepted", s)
		}
	}
}

func TestClip(t *testing.T) {
	if got := clip("ééé", 3); got != "é" {
		t.Errorf("clip cut inside a rune: %q", got)
	}
	if got := clip("abc", 5); got != "abc" {
		t.Errorf("clip(abc, 5) = %q", got)
	}
}
