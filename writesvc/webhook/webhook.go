// Package webhook tells operators' endpoints about comment events: a
// comment approved, a reply readers now see (its receiver notifies the
// parent's author), a comment removed.
//
// Deliveries come from an outbox: a trigger on the outbox table
// (schema/mysql/080_webhooks.sql) writes one webhook_deliveries row per
// registered endpoint and event in the transaction of the change itself, so
// a change commits with its deliveries or not at all, whoever made it. The
// Dispatcher sends due rows: it claims a batch (FOR UPDATE SKIP LOCKED, so
// several writesvc instances share the work), moves each a lease ahead
// before sending, and records the answer. A 2xx sets delivered_at once; any
// other answer or none schedules the next attempt with exponential backoff
// until attempts run out (failed_at). An instance that dies mid-send leaves
// the row to come due again when its lease ends: delivery is at least once,
// and receivers drop repeats by X-Vidcomments-Delivery. Sending never runs
// on the write path, so a dead endpoint slows no post or moderation.
//
// Every request is a POST of JSON {"id","event","comment",…} signed with
// the endpoint's secret: X-Vidcomments-Signature: t=<unix seconds>,v1=<hex
// HMAC-SHA256 of "<t>.<body>">, which Verify checks.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The events an endpoint may subscribe to.
const (
	EventApproved = "comment.approved"
	EventReply    = "comment.reply"
	EventRemoved  = "comment.removed"
)

// Events lists every event, in the order the API documents them.
var Events = []string{EventApproved, EventReply, EventRemoved}

// Request headers of a delivery.
const (
	HeaderSignature = "X-Vidcomments-Signature"
	HeaderEvent     = "X-Vidcomments-Event"
	HeaderDelivery  = "X-Vidcomments-Delivery"
)

// Sign is the X-Vidcomments-Signature value of body sent at t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(secret, ts, body)
}

func mac(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// ErrBadSignature is Verify's answer to a request not signed with the
// secret, or signed longer ago than the tolerance.
var ErrBadSignature = errors.New("webhook: bad signature")

// Verify checks header (X-Vidcomments-Signature) against body and secret,
// and that it was made within tolerance of now: what a receiver does first.
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sig == "" {
		return fmt.Errorf("%w: want t=…,v1=…", ErrBadSignature)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: signed %v from now", ErrBadSignature, d.Round(time.Second))
	}
	if !hmac.Equal([]byte(sig), []byte(mac(secret, ts, body))) {
		return ErrBadSignature
	}
	return nil
}
