package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/vidcomments/vidcomments/internal/apiclient"
)

// The tests call readsvc and writesvc through internal/apiclient, the
// client generated from docs/openapi.yaml: an operation, parameter or
// field the document gets wrong fails them here, not only in the contract
// tests. Raw HTTP is left for what the document does not describe (the
// admin listeners) and for the console in the browser.

// read is readsvc's API at c.ReadURL and write writesvc's at c.WriteURL
// (a test may move either), on the tests' shared HTTP client.
func (c *cluster) read() *apiclient.ClientWithResponses  { return c.api(c.ReadURL) }
func (c *cluster) write() *apiclient.ClientWithResponses { return c.api(c.WriteURL) }

func (c *cluster) api(base string) *apiclient.ClientWithResponses {
	api, err := apiclient.NewClientWithResponses(base, apiclient.WithHTTPClient(client))
	if err != nil {
		panic(err) // only a base URL that does not parse, which startCluster never makes
	}
	return api
}

// bearer sends token as the request's Bearer token; none when empty.
func bearer(token string) apiclient.RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		return nil
	}
}

// apiID is n as the document's ID: a decimal string.
func apiID(n int64) apiclient.ID { return strconv.FormatInt(n, 10) }

// parseID is the int64 of an ID the services answered; 0 if it is none.
func parseID(s apiclient.ID) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// errorCode is the code of an error body ({"error":{"code","message"}}),
// "" when body is not one.
func errorCode(body []byte) string {
	var e apiclient.Error
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	return e.Error.Code
}

// pageParams are listVideoComments' query parameters; cursor "" is page one.
func pageParams(order string, limit int, cursor string) *apiclient.ListVideoCommentsParams {
	sort := apiclient.ListVideoCommentsParamsSort(order)
	p := &apiclient.ListVideoCommentsParams{Sort: &sort, Limit: &limit}
	if cursor != "" {
		p.Cursor = &cursor
	}
	return p
}

// status is a comment's status as readsvc shows it: "pending" on the
// author's own pending ones, "" on every public comment.
func status(cm pub) string {
	if cm.Status == nil {
		return ""
	}
	return string(*cm.Status)
}

func ptr[T any](v T) *T { return &v }
