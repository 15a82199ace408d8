// Package e2e runs the four services as real processes against the real
// stack — writesvc, syncer, cdc and readsvc on a private database, keyspace
// and topic — and checks what a user sees end to end, including the
// moderation console in a headless Chromium.
package e2e
