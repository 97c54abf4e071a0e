package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Webhook is a [Notifier] that POSTs each notice as JSON to a URL: the
// [Notice]'s fields (id, client, site, kind, day, at, reason, cycle_end,
// failed, received) and "summary", its [Notice.Summary] line:
//
//	{"id": "leeds-1.2026-11-23.failures.window.3f9a01c2-1", "kind": "failures",
//	 "day": "2026-11-23", "at": "2026-11-24T08:00:00Z", "failed": [...],
//	 "client": "leeds-1", "site": "leeds", "received": "2026-11-24T08:00:01Z",
//	 "summary": "leeds-1 (leeds), cycle 2026-11-23: 1 failed at the window's end: backup (exit status 2)"}
//
// A notice may be posted more than once (see [Fleet.DeliverNotices]): the
// receiver deduplicates by client and id. Any answer but a 2xx is an
// error, so that the delivery tries again.
//
// The zero value is not usable: URL is required. A Webhook is safe for
// concurrent use when its fields do not change.
type Webhook struct {
	// URL receives the POSTs.
	URL string
	// Token, when not empty, is sent as "Authorization: Bearer <Token>".
	Token string
	// Timeout bounds each POST, answer included; 10 seconds when 0.
	Timeout time.Duration
	// Client sends the POSTs (TLS, proxies); http.DefaultClient when nil.
	Client *http.Client
}

// WebhookTimeout is a [Webhook]'s Timeout when it has none.
const WebhookTimeout = 10 * time.Second

// webhookBody is what a Webhook posts.
type webhookBody struct {
	Notice
	Summary string `json:"summary"`
}

// Notify posts n. It fails when the URL cannot be reached, when the
// answer is not a 2xx (the error has the status and the start of the
// body), or when the timeout or ctx ends the request first.
func (w *Webhook) Notify(ctx context.Context, n Notice) error {
	data, err := json.Marshal(webhookBody{Notice: n, Summary: n.Summary()})
	if err != nil {
		return err
	}
	timeout := w.Timeout
	if timeout <= 0 {
		timeout = WebhookTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("server: webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if w.Token != "" {
		req.Header.Set("Authorization", "Bearer "+w.Token)
	}
	client := w.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("server: webhook: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%w: %s: %s", ErrWebhookStatus, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}
