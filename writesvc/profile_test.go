package main

import (
	"strings"
	"testing"

	"github.com/vidcomments/vidcomments/internal/auth"
	"github.com/vidcomments/vidcomments/writesvc/api"
)

func TestPutProfile(t *testing.T) {
	st, in := startOnStack(t)
	const user = 4242
	tok := token(t, user, auth.RoleUser)
	put := func(body any) response {
		return in.do(t, req{method: "PUT", path: "/v1/me/profile", token: tok, body: body})
	}

	r := put(map[string]string{"display_name": "  Ada\u0301 L.  ", "avatar_url": "https://img.example/a.png"})
	if r.code != 200 {
		t.Fatalf("PUT: %v", r)
	}
	var p api.Profile
	r.decode(t, &p)
	if p.UserID != "4242" || p.DisplayName != "Adá L." || p.AvatarURL != "https://img.example/a.png" || p.UpdatedAt == "" {
		t.Errorf("profile %+v: want it trimmed and NFC", p)
	}
	if r = put(map[string]string{"display_name": "Ada"}); r.code != 200 {
		t.Fatalf("second PUT: %v", r)
	}
	if n := st.count(t, `SELECT COUNT(*) FROM users WHERE id = ? AND display_name = 'Ada' AND avatar_url = ''`, user); n != 1 {
		t.Errorf("%d rows hold the replaced profile, want 1", n)
	}

	for name, tc := range map[string]struct {
		body any
		code string
		want int
	}{
		"no name":           {map[string]string{"avatar_url": ""}, "invalid_display_name", 400},
		"blank name":        {map[string]string{"display_name": " \u00a0 "}, "invalid_display_name", 400},
		"name too long":     {map[string]string{"display_name": strings.Repeat("é", 65)}, "invalid_display_name", 400},
		"newline in name":   {map[string]string{"display_name": "a\nb"}, "invalid_display_name", 400},
		"name not a string": {`{"display_name":7}`, "invalid_field", 400},
		"http avatar":       {map[string]string{"display_name": "a", "avatar_url": "http://img.example/a.png"}, "invalid_avatar_url", 400},
		"relative avatar":   {map[string]string{"display_name": "a", "avatar_url": "/a.png"}, "invalid_avatar_url", 400},
		"avatar with user":  {map[string]string{"display_name": "a", "avatar_url": "https://u:p@img.example/a.png"}, "invalid_avatar_url", 400},
		"avatar with space": {map[string]string{"display_name": "a", "avatar_url": "https://img.example/a b.png"}, "invalid_avatar_url", 400},
		"avatar too long":   {map[string]string{"display_name": "a", "avatar_url": "https://img.example/" + strings.Repeat("a", 500)}, "invalid_avatar_url", 400},
		"javascript avatar": {map[string]string{"display_name": "a", "avatar_url": "javascript:alert(1)"}, "invalid_avatar_url", 400},
		"unknown field":     {`{"display_name":"a","admin":true}`, "", 400},
		"not json":          {`{"display_name":`, "", 400},
	} {
		t.Run(name, func(t *testing.T) {
			r := put(tc.body)
			if r.code != tc.want || (tc.code != "" && r.errorCode() != tc.code) || r.errorCode() == "" {
				t.Errorf("%v: want %d %s", r, tc.want, tc.code)
			}
		})
	}
	if r := in.do(t, req{method: "PUT", path: "/v1/me/profile", body: map[string]string{"display_name": "a"}}); r.code != 401 {
		t.Errorf("without a token: %v, want 401", r)
	}
	if n := st.count(t, `SELECT COUNT(*) FROM users WHERE id = ? AND display_name = 'Ada'`, user); n != 1 {
		t.Error("a refused PUT changed the stored profile")
	}
}
