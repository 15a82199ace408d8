package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const secret = "0123456789abcdef0123456789abcdef-test"

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func sign(t *testing.T, method jwt.SigningMethod, key any, c jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func good(overrides map[string]any) jwt.MapClaims {
	c := jwt.MapClaims{"sub": "42", "role": "user", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for k, v := range overrides {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// unsigned builds an alg=none token by hand, as an attacker would.
func unsigned(c string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc([]byte(c)) + "."
}

func TestVerify(t *testing.T) {
	v, err := NewVerifier(secret, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hs := jwt.SigningMethodHS256
	valid := sign(t, hs, []byte(secret), good(nil))
	tampered := strings.Split(valid, ".")
	tampered[1] = base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"1","role":"moderator","exp":9999999999}`))

	tests := []struct {
		name  string
		token string
		want  Principal
		err   error
	}{
		{"user", valid, Principal{42, RoleUser}, nil},
		{"moderator", sign(t, hs, []byte(secret), good(map[string]any{"role": "moderator", "sub": "7"})), Principal{7, RoleModerator}, nil},
		{"expired", sign(t, hs, []byte(secret), good(map[string]any{"exp": now.Add(-time.Minute).Unix()})), Principal{}, ErrExpired},
		{"expired within leeway", sign(t, hs, []byte(secret), good(map[string]any{"exp": now.Add(-Leeway / 2).Unix()})), Principal{42, RoleUser}, nil},
		{"not before in the future", sign(t, hs, []byte(secret), good(map[string]any{"nbf": now.Add(time.Hour).Unix()})), Principal{}, ErrNotYetValid},
		{"issued in the future", sign(t, hs, []byte(secret), good(map[string]any{"iat": now.Add(time.Hour).Unix()})), Principal{}, ErrNotYetValid},
		{"no exp", sign(t, hs, []byte(secret), good(map[string]any{"exp": nil})), Principal{}, ErrMalformed},
		{"alg none", unsigned(`{"sub":"42","role":"moderator","exp":9999999999}`), Principal{}, ErrMalformed},
		{"alg none signed by the library", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, good(nil)), Principal{}, ErrMalformed},
		{"wrong key", sign(t, hs, []byte(strings.Repeat("x", 40)), good(nil)), Principal{}, ErrMalformed},
		{"HS512 with the right key", sign(t, jwt.SigningMethodHS512, []byte(secret), good(nil)), Principal{}, ErrMalformed},
		{"ES256", sign(t, jwt.SigningMethodES256, ec, good(nil)), Principal{}, ErrMalformed},
		{"tampered payload", strings.Join(tampered, "."), Principal{}, ErrMalformed},
		{"garbage", "not.a.token", Principal{}, ErrMalformed},
		{"empty", "", Principal{}, ErrMalformed},
		{"huge", strings.Repeat("a", MaxTokenBytes+1), Principal{}, ErrMalformed},
		{"sub missing", sign(t, hs, []byte(secret), good(map[string]any{"sub": nil})), Principal{}, ErrMalformed},
		{"sub zero", sign(t, hs, []byte(secret), good(map[string]any{"sub": "0"})), Principal{}, ErrMalformed},
		{"sub negative", sign(t, hs, []byte(secret), good(map[string]any{"sub": "-4"})), Principal{}, ErrMalformed},
		{"sub a name", sign(t, hs, []byte(secret), good(map[string]any{"sub": "alice"})), Principal{}, ErrMalformed},
		{"sub a JSON number", sign(t, hs, []byte(secret), good(map[string]any{"sub": 42})), Principal{}, ErrMalformed},
		{"role missing", sign(t, hs, []byte(secret), good(map[string]any{"role": nil})), Principal{}, ErrMalformed},
		{"role admin", sign(t, hs, []byte(secret), good(map[string]any{"role": "admin"})), Principal{}, ErrMalformed},
		{"role in another case", sign(t, hs, []byte(secret), good(map[string]any{"role": "Moderator"})), Principal{}, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.Verify(tt.token)
			if tt.err == nil {
				if err != nil || got != tt.want {
					t.Fatalf("Verify = %+v, %v; want %+v", got, err, tt.want)
				}
				return
			}
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if got != (Principal{}) {
				t.Errorf("principal %+v returned with an error", got)
			}
		})
	}
}

func TestIssueRoundTrip(t *testing.T) {
	tok, err := Issue(secret, Principal{UserID: 9, Role: RoleModerator}, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []struct {
		when time.Time
		err  error
	}{{now, nil}, {now.Add(59 * time.Minute), nil}, {now.Add(61 * time.Minute), ErrExpired}, {now.Add(-time.Minute), ErrNotYetValid}} {
		v, _ := NewVerifier(secret, func() time.Time { return at.when })
		p, err := v.Verify(tok)
		if !errors.Is(err, at.err) || (err == nil && p != (Principal{9, RoleModerator})) {
			t.Errorf("at %v: %+v, %v; want err %v", at.when, p, err, at.err)
		}
	}
	for _, bad := range []struct {
		secret string
		p      Principal
		ttl    time.Duration
	}{
		{"", Principal{1, RoleUser}, time.Hour},
		{"short", Principal{1, RoleUser}, time.Hour},
		{secret, Principal{0, RoleUser}, time.Hour},
		{secret, Principal{1, "admin"}, time.Hour},
		{secret, Principal{1, RoleUser}, 0},
	} {
		if _, err := Issue(bad.secret, bad.p, now, bad.ttl); err == nil {
			t.Errorf("Issue(%q, %+v, %v) succeeded", bad.secret, bad.p, bad.ttl)
		}
	}
}

func TestBearerToken(t *testing.T) {
	for h, want := range map[string]string{
		"Bearer abc": "abc", "bearer abc": "abc", "BEARER  abc ": "abc",
		"": "", "Bearer": "", "Bearer ": "", "Basic abc": "", "abc": "", "Token abc": "",
	} {
		if got, ok := BearerToken(h); got != want || ok != (want != "") {
			t.Errorf("BearerToken(%q) = %q, %v; want %q", h, got, ok, want)
		}
	}
}

func TestNewVerifierRefusesWeakSecrets(t *testing.T) {
	for _, s := range []string{"", "short", strings.Repeat("k", MinSecretBytes-1)} {
		if _, err := NewVerifier(s, time.Now); err == nil {
			t.Errorf("secret of %d bytes accepted", len(s))
		}
	}
}
