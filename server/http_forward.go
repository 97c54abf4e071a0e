package server

import (
	"context"
	"net/http"
	"net/http/httputil"
	"net/url"
)

// forwardedHeader marks a request a follower forwarded to the leader, so
// that it is never forwarded again (a replica that lost the lead in
// between answers 503).
const forwardedHeader = "Afterhours-Forwarded"

// retryAfter is the Retry-After, in seconds, of a 503 for want of a leader.
const retryAfter = "1"

// leaderOnly wraps an admin endpoint whose change allocates: the leader
// serves it; a follower forwards it, with its body and Authorization
// header, to the leader's URL, or answers 503 with Retry-After when no
// leader is known or the request was forwarded already.
func (h *Handler) leaderOnly(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		self, leader := h.fleet.Leader()
		switch {
		case self:
			next(w, r)
			return
		case leader == "":
			noLeader(w, "this replica does not lead the fleet's replicas and no leader is known: try again shortly")
			return
		case r.Header.Get(forwardedHeader) != "":
			noLeader(w, "forwarded to a replica that does not lead: the lead is changing, try again shortly")
			return
		}
		target, err := url.Parse(leader)
		if err != nil || (target.Scheme != "http" && target.Scheme != "https") || target.Host == "" {
			noLeader(w, "the leader advertised an unusable URL "+leader)
			return
		}
		p := &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(target)
				pr.SetXForwarded()
				pr.Out.Header.Set(forwardedHeader, "1")
			},
			Transport: h.forward,
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				if r.Context().Err() != nil {
					return // the client left
				}
				w.Header().Set("Retry-After", retryAfter)
				writeError(w, http.StatusBadGateway, "forward to the leader "+leader+": "+err.Error(), nil)
			},
		}
		p.ServeHTTP(w, r)
	}
}

// noLeader answers 503 with Retry-After.
func noLeader(w http.ResponseWriter, msg string) {
	w.Header().Set("Retry-After", retryAfter)
	writeError(w, http.StatusServiceUnavailable, msg, nil)
}

// Run delivers the agents' notices to the notifier of [WithNotifier]
// ([Fleet.DeliverNotices]) until ctx is done, and returns ctx's error;
// without a notifier it only waits for ctx. The serve command runs it
// beside the HTTP server. Run it once per handler. Of several replicas
// ([WithLeadership]), only the leader delivers: a replica starts when it
// takes the lead, from the notices the store still has undelivered, and
// stops when it loses it (a notice handed over as the lead changes may be
// handed over twice: delivery is at least once).
func (h *Handler) Run(ctx context.Context) error {
	if h.notifier == nil {
		<-ctx.Done()
		return ctx.Err()
	}
	lead := h.fleet.lead
	for {
		changed := lead.Changed()
		if self, _ := lead.Leader(); !self {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-changed:
				continue
			}
		}
		dctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		leading := func() bool { self, _ := lead.Leader(); return self }
		go func() { done <- h.fleet.deliverNotices(dctx, h.notifier, leading) }()
		select {
		case err := <-done: // only when ctx is done
			cancel()
			return err
		case <-changed:
			cancel()
			<-done
		case <-ctx.Done():
			cancel()
			<-done
			return ctx.Err()
		}
	}
}
