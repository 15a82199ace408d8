// Package auth verifies and issues the bearer tokens writesvc requires and
// readsvc honours (an author's view of their own pending comments): JWTs
// signed with HS256 and a shared secret, whose "sub" is the user id (a
// positive decimal int64, as a string) and whose "role" is user or
// moderator. Only HS256 is accepted, "exp" is required, and "nbf"/"iat" are
// honoured.
package auth

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/vidcomments/vidcomments/internal/comment"
)

// Role is what a token lets its holder do.
type Role string

// The roles.
const (
	RoleUser      Role = "user"
	RoleModerator Role = "moderator"
)

// ParseRole returns the Role named s.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleUser, RoleModerator:
		return r, nil
	}
	return "", fmt.Errorf("role %q: want user or moderator", s)
}

// Principal is who a verified token speaks for.
type Principal struct {
	UserID int64
	Role   Role
}

// MinSecretBytes is the shortest secret accepted: RFC 7518 §3.2 asks for a
// key at least as long as the HS256 hash output.
const MinSecretBytes = 32

// CheckSecret reports why secret cannot sign tokens, or nil.
func CheckSecret(secret string) error {
	switch {
	case secret == "":
		return errors.New("no JWT secret: set VC_JWT_SECRET (or -jwt-secret) to at least 32 random bytes")
	case len(secret) < MinSecretBytes:
		return fmt.Errorf("JWT secret is %d bytes; HS256 needs at least %d", len(secret), MinSecretBytes)
	}
	return nil
}

// Leeway is how far the clocks of token issuer and writesvc may disagree
// when exp, nbf and iat are checked.
const Leeway = 30 * time.Second

// MaxTokenBytes bounds a token before any parsing is attempted.
const MaxTokenBytes = 4096

// The reasons a token is refused. Verify wraps one of them.
var (
	ErrMalformed   = errors.New("token is malformed, unsigned, signed another way or with another key, or carries bad claims")
	ErrExpired     = errors.New("token has expired")
	ErrNotYetValid = errors.New("token is not valid yet")
)

type claims struct {
	jwt.RegisteredClaims
	Role string `json:"role"`
}

// Verifier checks tokens signed with one secret.
type Verifier struct {
	key    []byte
	parser *jwt.Parser
}

// NewVerifier returns a Verifier for secret, reading the time from now
// (time.Now in production).
func NewVerifier(secret string, now func() time.Time) (*Verifier, error) {
	if err := CheckSecret(secret); err != nil {
		return nil, err
	}
	return &Verifier{
		key: []byte(secret),
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), // never "none", never RS/ES with the secret as a "public key"
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(Leeway),
			jwt.WithTimeFunc(now),
			jwt.WithStrictDecoding(),
		),
	}, nil
}

// Verify checks token (without the "Bearer " prefix) and returns whom it
// speaks for.
func (v *Verifier) Verify(token string) (Principal, error) {
	if len(token) > MaxTokenBytes {
		return Principal{}, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, MaxTokenBytes)
	}
	var c claims
	_, err := v.parser.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		if _, ok := t.Method.(*jwt.SigningMethodHMAC); !ok {
			return nil, fmt.Errorf("signing method %v", t.Header["alg"])
		}
		return v.key, nil
	})
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return Principal{}, fmt.Errorf("%w: %v", ErrExpired, err)
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return Principal{}, fmt.Errorf("%w: %v", ErrNotYetValid, err)
	case err != nil:
		return Principal{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	uid, err := comment.ParseID(c.Subject)
	if err != nil {
		return Principal{}, fmt.Errorf("%w: sub: %v", ErrMalformed, err)
	}
	role, err := ParseRole(c.Role)
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return Principal{UserID: uid, Role: role}, nil
}

// BearerToken returns the token of an Authorization header value
// ("Bearer <token>", scheme case-insensitive), and false if the header is
// not of that form.
func BearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// Issue signs a token for p valid from now for ttl.
func Issue(secret string, p Principal, now time.Time, ttl time.Duration) (string, error) {
	if err := CheckSecret(secret); err != nil {
		return "", err
	}
	if p.UserID <= 0 {
		return "", fmt.Errorf("user id %d: want a positive integer", p.UserID)
	}
	if _, err := ParseRole(string(p.Role)); err != nil {
		return "", err
	}
	if ttl <= 0 {
		return "", fmt.Errorf("ttl %v: want a positive duration", ttl)
	}
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   comment.FormatID(p.UserID),
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		Role: string(p.Role),
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(secret))
}
