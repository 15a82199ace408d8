package api

// CommentsRoute exposes commentsRoute to the external tests.
var CommentsRoute = commentsRoute
