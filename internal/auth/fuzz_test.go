package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// FuzzVerify: Verify accepts a token only if it is three base64url parts
// whose header says HS256 and whose signature is this secret's HMAC of the
// first two, and then returns a positive user id and a known role; it
// never panics on anything else.
func FuzzVerify(f *testing.F) {
	const secret = "0123456789abcdef0123456789abcdef"
	now := time.Unix(1_800_000_000, 0)
	v, err := NewVerifier(secret, func() time.Time { return now })
	if err != nil {
		f.Fatal(err)
	}
	good, err := Issue(secret, Principal{UserID: 42, Role: RoleModerator}, now, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	other, _ := Issue(strings.Repeat("x", 32), Principal{UserID: 42, Role: RoleUser}, now, time.Hour)
	expired, _ := Issue(secret, Principal{UserID: 1, Role: RoleUser}, now.Add(-2*time.Hour), time.Hour)
	h, p, _ := strings.Cut(good, ".")
	p, _, _ = strings.Cut(p, ".")
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + p + "."
	for _, s := range []string{good, other, expired, none, h + "." + p, good + ".x", "", "..", "a.b.c", strings.Repeat("A", 5000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		got, err := v.Verify(token)
		if err != nil {
			return
		}
		if got.UserID <= 0 || (got.Role != RoleUser && got.Role != RoleModerator) {
			t.Fatalf("Verify(%q) = %+v", token, got)
		}
		parts := strings.Split(token, ".")
		if len(parts) != 3 {
			t.Fatalf("accepted %q: %d parts", token, len(parts))
		}
		head, err := base64.RawURLEncoding.DecodeString(parts[0])
		var hdr struct {
			Alg string `json:"alg"`
		}
		if err != nil || json.Unmarshal(head, &hdr) != nil || hdr.Alg != "HS256" {
			t.Fatalf("accepted %q with header %q", token, head)
		}
		sig, err := base64.RawURLEncoding.DecodeString(parts[2])
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(parts[0] + "." + parts[1]))
		if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
			t.Fatalf("accepted %q, whose signature is not ours", token)
		}
	})
}
