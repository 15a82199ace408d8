package api

import (
	"context"
	"net/http"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/httpapi"
	"github.com/vidcomments/vidcomments/internal/profiles"
	"github.com/vidcomments/vidcomments/writesvc/store"
	"github.com/vidcomments/vidcomments/writesvc/validate"
)

// ProfileStore stores author profiles (*store.Store).
type ProfileStore interface {
	PutProfile(ctx context.Context, p store.Profile) (store.Profile, error)
}

// profileRequest is the body of PUT /v1/me/profile.
type profileRequest struct {
	DisplayName *string `json:"display_name"`
	AvatarURL   string  `json:"avatar_url"`
}

// Profile is an author's profile as the API shows it.
type Profile struct {
	UserID      string `json:"user_id"`
	DisplayName string `json:"display_name"`
	AvatarURL   string `json:"avatar_url"`
	UpdatedAt   string `json:"updated_at"`
}

// putProfile serves PUT /v1/me/profile: 200 with the profile as stored.
// Comment pages show it within about a second (cdc, then readsvc).
func (a *API) putProfile(w http.ResponseWriter, r *http.Request) {
	if a.cfg.Profiles == nil {
		httpapi.WriteError(w, http.StatusNotFound, "not_found", "profiles are not enabled on this server")
		return
	}
	body, aerr := readBody(w, r, false)
	if aerr != nil {
		aerr.write(w)
		return
	}
	var req profileRequest
	if aerr := decodeStrict(body, &req); aerr != nil {
		aerr.write(w)
		return
	}
	if req.DisplayName == nil {
		badRequest(validate.CodeInvalidDisplayName, "display_name is required").write(w)
		return
	}
	name, err := validate.DisplayName(*req.DisplayName, profiles.MaxDisplayName)
	if err == nil {
		err = validate.AvatarURL(req.AvatarURL, profiles.MaxAvatarURL)
	}
	if err != nil {
		fromValidation(err).write(w)
		return
	}
	p, err := a.cfg.Profiles.PutProfile(r.Context(), store.Profile{UserID: principal(r.Context()).UserID, DisplayName: name, AvatarURL: req.AvatarURL})
	if err != nil {
		a.unavailable(w, r, "storage", err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, Profile{UserID: comment.FormatID(p.UserID), DisplayName: p.DisplayName, AvatarURL: p.AvatarURL, UpdatedAt: comment.FormatTime(p.UpdatedAt)})
}
