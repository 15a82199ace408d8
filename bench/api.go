package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/vidcomments/vidcomments/internal/apiclient"
)

// bench calls the public APIs — seeding checks, the write delays, chaos's
// writers, moderator and read-side checks — through internal/apiclient,
// the client generated from docs/openapi.yaml. The load generators (wrk,
// vegeta, bench/load) are not: they replay fixed paths and measure the
// server, not a client.

// newAPI is the generated client of the service at base over client.
func newAPI(base string, client *http.Client) *apiclient.ClientWithResponses {
	api, err := apiclient.NewClientWithResponses(base, apiclient.WithHTTPClient(client))
	if err != nil {
		panic(err) // only a base URL that does not parse; bench builds each from host:port
	}
	return api
}

// bearer sends tok as the request's Bearer token.
func bearer(tok string) apiclient.RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+tok)
		return nil
	}
}

// apiID is n as the document's ID: a decimal string.
func apiID(n int64) apiclient.ID { return strconv.FormatInt(n, 10) }

// page is readsvc's page answer.
type page apiclient.Page

func (p page) ids() []string {
	out := make([]string, len(p.Comments))
	for i, c := range p.Comments {
		out[i] = c.Id
	}
	return out
}

func (p page) has(id string) bool {
	for _, c := range p.Comments {
		if c.Id == id {
			return true
		}
	}
	return false
}

// next is the cursor of the next page, "" on the last.
func (p page) next() string {
	if p.NextCursor == nil {
		return ""
	}
	return *p.NextCursor
}

// fetchPage reads the page of video firstPage names (newest first, 50),
// or the one cursor leads to.
func fetchPage(ctx context.Context, api *apiclient.ClientWithResponses, video int64, cursor string) (page, error) {
	limit := 50
	params := &apiclient.ListVideoCommentsParams{Limit: &limit}
	if cursor != "" {
		params.Cursor = &cursor
	}
	r, err := api.ListVideoCommentsWithResponse(ctx, apiID(video), params)
	if err != nil {
		return page{}, fmt.Errorf("page of video %d: %w", video, err)
	}
	if r.JSON200 == nil {
		return page{}, fmt.Errorf("GET %s: %d %s", r.HTTPResponse.Request.URL, r.StatusCode(), r.Body)
	}
	return page(*r.JSON200), nil
}
