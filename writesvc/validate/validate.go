// Package validate checks and normalises what clients send writesvc:
// comment content, moderation reasons, Idempotency-Key values, and JSON
// string tokens that encoding/json would otherwise repair silently. Every
// failure is an *Error carrying the stable code the API returns.
package validate

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Error is a validation failure: Code is the API's error code, Message says
// what is wrong in words.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func fail(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// The codes this package returns.
const (
	CodeInvalidUTF8           = "invalid_utf8"
	CodeContentRequired       = "content_required"
	CodeContentEmpty          = "content_empty"
	CodeContentTooLong        = "content_too_long"
	CodeContentInvalidChar    = "content_invalid_char"
	CodeReasonRequired        = "reason_required" // returned by the API when a reject has no reason
	CodeInvalidReason         = "invalid_reason"
	CodeInvalidIdempotencyKey = "invalid_idempotency_key"
	CodeInvalidDisplayName    = "invalid_display_name"
	CodeInvalidAvatarURL      = "invalid_avatar_url"
)

// MaxReasonRunes bounds a moderation reason (the column is VARCHAR(512)).
const MaxReasonRunes = 512

// MaxIdempotencyKey bounds an Idempotency-Key (the column is VARCHAR(128)).
const MaxIdempotencyKey = 128

// Content normalises a comment body and checks it: valid UTF-8, "\r\n"
// turned into "\n", no other control character (so no tab, no lone "\r",
// no NUL, no C1 control), NFC-normalised, leading and trailing white space
// trimmed, then 1..maxRunes runes. The limit holds for the text as sent
// (code points, what an OpenAPI maxLength counts: normalising never makes
// a too long text acceptable) and for the text stored (NFC lengthens a few
// characters, U+0344 into two). It returns the text to store.
func Content(s string, maxRunes int) (string, error) {
	s, err := normalise(s, true, CodeContentInvalidChar, "content", maxRunes, CodeContentTooLong)
	if err != nil {
		return "", err
	}
	switch n := utf8.RuneCountInString(s); {
	case n == 0:
		return "", fail(CodeContentEmpty, "content is empty")
	case n > maxRunes:
		return "", fail(CodeContentTooLong, "content has %d characters after normalisation, at most %d are allowed", n, maxRunes)
	}
	return s, nil
}

// Reason normalises and checks a moderation reason like Content, but a
// reason is one line (no newline either) of at most MaxReasonRunes, as
// sent and as stored. It may be empty; callers that need one check for "".
func Reason(s string) (string, error) {
	s, err := normalise(s, false, CodeInvalidReason, "reason", MaxReasonRunes, CodeInvalidReason)
	if err != nil {
		return "", err
	}
	if n := utf8.RuneCountInString(s); n > MaxReasonRunes {
		return "", fail(CodeInvalidReason, "reason has %d characters after normalisation, at most %d are allowed", n, MaxReasonRunes)
	}
	return s, nil
}

// normalise checks UTF-8, control characters and the length as sent (at
// most maxRunes, or lengthCode), then returns s in NFC with white space
// trimmed.
func normalise(s string, newlines bool, charCode, what string, maxRunes int, lengthCode string) (string, error) {
	if !utf8.ValidString(s) {
		return "", fail(CodeInvalidUTF8, "%s is not valid UTF-8", what)
	}
	if n := utf8.RuneCountInString(s); n > maxRunes {
		return "", fail(lengthCode, "%s has %d characters, at most %d are allowed", what, n, maxRunes)
	}
	if newlines {
		s = strings.ReplaceAll(s, "\r\n", "\n")
	}
	for i, r := range s {
		if unicode.IsControl(r) && !(newlines && r == '\n') {
			return "", fail(charCode, "%s contains the control character U+%04X at byte %d", what, r, i)
		}
	}
	return strings.TrimSpace(norm.NFC.String(s)), nil
}

// DisplayName normalises and checks an author's display name like a
// Reason: one line, no control character, NFC, trimmed, then 1..maxRunes
// runes.
func DisplayName(s string, maxRunes int) (string, error) {
	s, err := normalise(s, false, CodeInvalidDisplayName, "display_name", maxRunes, CodeInvalidDisplayName)
	if err != nil {
		return "", err
	}
	switch n := utf8.RuneCountInString(s); {
	case n == 0:
		return "", fail(CodeInvalidDisplayName, "display_name is empty")
	case n > maxRunes:
		return "", fail(CodeInvalidDisplayName, "display_name has %d characters after normalisation, at most %d are allowed", n, maxRunes)
	}
	return s, nil
}

// AvatarURLPattern is what an avatar's address may be, as
// docs/openapi.yaml's NewProfile.avatar_url says it: an absolute https URL
// of a plain host, path and query, without user info, fragment or escapes.
const AvatarURLPattern = `^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?(\?[A-Za-z0-9._~=&-]*)?$`

var avatarURL = regexp.MustCompile(AvatarURLPattern)

// AvatarURL checks an avatar's address: empty (no avatar), or at most
// maxBytes bytes matching AvatarURLPattern.
func AvatarURL(s string, maxBytes int) error {
	switch {
	case s == "":
		return nil
	case len(s) > maxBytes:
		return fail(CodeInvalidAvatarURL, "avatar_url has %d bytes, at most %d are allowed", len(s), maxBytes)
	case !avatarURL.MatchString(s):
		return fail(CodeInvalidAvatarURL, "avatar_url must be an absolute https URL of a host, path and query (no user info, fragment or escapes)")
	}
	return nil
}

// IdempotencyKey checks an Idempotency-Key header value: 1..128 characters
// of printable ASCII (0x21..0x7E).
func IdempotencyKey(k string) error {
	if k == "" || len(k) > MaxIdempotencyKey {
		return fail(CodeInvalidIdempotencyKey, "Idempotency-Key must be 1..%d characters", MaxIdempotencyKey)
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return fail(CodeInvalidIdempotencyKey, "Idempotency-Key may hold only printable ASCII without spaces")
		}
	}
	return nil
}

// JSONString decodes one JSON string token. Unlike encoding/json, which
// turns an unpaired UTF-16 surrogate escape ("\ud800") into U+FFFD without a
// word, it refuses one: the client sent text that is not Unicode. ok is
// false when raw is not a string at all (null, a number, an object).
func JSONString(raw json.RawMessage) (s string, ok bool, err error) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", false, nil
	}
	if err := checkSurrogates(raw); err != nil {
		return "", true, err
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", true, err
	}
	return s, true, nil
}

// checkSurrogates scans the escapes of a JSON string token for \uD800..\uDFFF
// that do not form a high-low pair.
func checkSurrogates(raw []byte) error {
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		i++
		if i >= len(raw) || raw[i] != 'u' {
			continue // a two-character escape such as \" or \\ — skipped whole
		}
		r, ok := hex4(raw, i+1)
		if !ok {
			return nil // malformed: json.Unmarshal reports it
		}
		i += 4
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return fail(CodeInvalidUTF8, "string holds an unpaired UTF-16 low surrogate \\u%04X", r)
		case r >= 0xD800 && r <= 0xDBFF:
			lo, ok := rune(0), false
			if i+2 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
				lo, ok = hex4(raw, i+3)
			}
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return fail(CodeInvalidUTF8, "string holds an unpaired UTF-16 high surrogate \\u%04X", r)
			}
			i += 6
		}
	}
	return nil
}

func hex4(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[at : at+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c-'a') + 10
		case c >= 'A' && c <= 'F':
			r |= rune(c-'A') + 10
		default:
			return 0, false
		}
	}
	return r, true
}
