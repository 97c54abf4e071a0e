package agentlink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/afterhours-go/afterhours"
)

// Store keys of the last good profile and its ETag.
const (
	ProfileKey = "agentlink.profile"
	etagKey    = "agentlink.etag"
)

// PollWait is the long-poll wait asked of the server.
const PollWait = 5 * time.Minute

// Link connects an [afterhours.Executor] to a fleet server: it applies the
// profiles the server serves and submits the commands it queues. It never
// stops the executor: when the server is unreachable the executor goes on
// with the profile it has. A Link is used by one Run at a time.
type Link struct {
	exec  *afterhours.Executor
	store afterhours.Store
	creds Credentials
	http  *http.Client
	clk   afterhours.Clock
	log   *slog.Logger

	prepare func(*afterhours.Profile) error

	mu  sync.Mutex
	rnd *rand.Rand

	notices *Notifier // WithNotices
}

// Option configures a [Link].
type Option func(*Link)

// WithHTTPClient sets the HTTP client (TLS, proxies); http.DefaultClient
// by default. Its Timeout must exceed [PollWait], or be 0.
func WithHTTPClient(c *http.Client) Option { return func(l *Link) { l.http = c } }

// WithClock sets the clock the retry backoff waits on; the real clock by
// default.
func WithClock(c afterhours.Clock) Option { return func(l *Link) { l.clk = c } }

// WithLogger sets the logger; slog.Default() by default.
func WithLogger(lg *slog.Logger) Option { return func(l *Link) { l.log = lg } }

// WithPrepare sets a function the link calls on every profile it fetches,
// after parsing it and before applying it with the executor's Update: an
// application that runs some tasks as Go code sets their Task.Action
// there, by task name (a profile from the server carries command lines
// only). The link validates the profile again after prepare; an error of
// prepare or of that validation refuses the profile as a bad one is (the
// executor keeps the profile it has). Prepare runs on the link's goroutine,
// one profile at a time.
func WithPrepare(prepare func(p *afterhours.Profile) error) Option {
	return func(l *Link) { l.prepare = prepare }
}

// withRand fixes the jitter's random source (tests).
func withRand(r *rand.Rand) Option { return func(l *Link) { l.rnd = r } }

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// New returns a Link of exec to the server of creds. store is the
// executor's store: the link keeps there the last good profile
// ([ProfileKey]) and its ETag.
func New(exec *afterhours.Executor, store afterhours.Store, creds Credentials, opts ...Option) (*Link, error) {
	if exec == nil || store == nil {
		return nil, errors.New("agentlink: nil executor or store")
	}
	if creds.Server == "" || creds.Client == "" || creds.Token == "" {
		return nil, errors.New("agentlink: incomplete credentials")
	}
	l := &Link{exec: exec, store: store, creds: creds, http: http.DefaultClient, clk: realClock{}, log: slog.Default()}
	for _, o := range opts {
		o(l)
	}
	if l.rnd == nil {
		l.rnd = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	return l, nil
}

// LastProfile returns the last profile the link applied, saved in store,
// so that an agent restarting without a network runs from it. It fails
// with an error matching fs.ErrNotExist when there is none.
func LastProfile(store afterhours.Store) (*afterhours.Profile, error) {
	data, err := store.Load(ProfileKey)
	if err != nil {
		return nil, err
	}
	return afterhours.ParseProfile(data)
}

// Run applies the killswitch state it saved before (see [KillSwitchKey]),
// then runs the profile, command, report, killswitch and notice loops until ctx
// ends or one of them stops for [ErrUnauthorized] or [ErrUnknownClient],
// which ends the others: a bad token or a removed client is the same for
// all. Network errors and 5xx answers are retried with [Backoff], never
// ending Run. It returns ctx.Err(), or the error that ended the loops; the
// executor's Run is never stopped (the fleet's killswitch kills and
// resumes it: see the package doc).
func (l *Link) Run(ctx context.Context) error {
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The killswitch state saved before is applied before the server is
	// reached: an agent restarted offline stays killed.
	ks := l.applyKill(l.loadKill())
	killLoop := func(ctx context.Context) error { return l.killLoop(ctx, ks) }
	loops := []func(context.Context) error{l.profileLoop, l.commandLoop, l.reportLoop, killLoop, l.noticeLoop}
	var wg sync.WaitGroup
	errs := make([]error, len(loops))
	for i, loop := range loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = loop(lctx); lctx.Err() == nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var out []error
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			out = append(out, err)
		}
	}
	return errors.Join(out...)
}

// statusError is an answer other than the one expected.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string { return fmt.Sprintf("status %d: %s", e.code, e.msg) }

// permanent turns the answers no retry can mend into the loop's end.
func permanent(err error) error {
	var se *statusError
	if errors.As(err, &se) {
		switch se.code {
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("%w: %v", ErrUnauthorized, err)
		case http.StatusNotFound:
			return fmt.Errorf("%w: %v", ErrUnknownClient, err)
		}
	}
	return nil
}

// retry runs op until it succeeds, ctx ends, or it fails permanently;
// between failures it waits [Backoff] on the link's clock.
func (l *Link) retry(ctx context.Context, what string, op func() error) error {
	for attempt := 0; ; attempt++ {
		err := op()
		if err == nil || ctx.Err() != nil {
			return ctx.Err()
		}
		if perr := permanent(err); perr != nil {
			l.log.Error("agentlink: "+what+": giving up", "err", perr)
			return perr
		}
		l.mu.Lock()
		d := Backoff(attempt, l.rnd.Float64)
		l.mu.Unlock()
		l.log.Warn("agentlink: "+what+": retrying", "err", err, "in", d)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-l.clk.After(d):
		}
	}
}

// do sends a request with the token and returns the answer, whose body
// the caller closes; an unexpected status is a *statusError.
func (l *Link) do(ctx context.Context, method, path string, body []byte, hdr http.Header, ok ...int) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, l.creds.Server+path, rd)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+l.creds.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := l.http.Do(req)
	if err != nil {
		return nil, err
	}
	for _, c := range ok {
		if resp.StatusCode == c {
			return resp, nil
		}
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	return nil, &statusError{code: resp.StatusCode, msg: string(bytes.TrimSpace(msg))}
}

func (l *Link) clientPath() string { return "/v1/agent/clients/" + url.PathEscape(l.creds.Client) }

// profileLoop long-polls the profile and applies each new one.
func (l *Link) profileLoop(ctx context.Context) error {
	etag := ""
	if b, err := l.store.Load(etagKey); err == nil {
		etag = string(b)
	} else if !errors.Is(err, fs.ErrNotExist) {
		l.log.Error("agentlink: load etag", "err", err)
	}
	for {
		err := l.retry(ctx, "profile", func() error {
			var err error
			etag, err = l.pollProfile(ctx, etag)
			return err
		})
		if err != nil {
			return err
		}
	}
}

// pollProfile asks for the profile once; a new one is parsed, applied and
// saved, and its ETag returned. A profile that does not parse or apply is
// logged and skipped (its ETag is kept so that it is not fetched again
// until it changes); the executor keeps the profile it has.
func (l *Link) pollProfile(ctx context.Context, etag string) (string, error) {
	path := l.clientPath() + "/profile"
	hdr := http.Header{}
	if etag != "" {
		path += "?wait=" + PollWait.String()
		hdr.Set("If-None-Match", etag)
	}
	resp, err := l.do(ctx, http.MethodGet, path, nil, hdr, http.StatusOK, http.StatusNotModified)
	if err != nil {
		return etag, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified {
		return etag, nil
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return etag, err
	}
	newTag := resp.Header.Get("ETag")
	p, err := afterhours.ParseProfile(data)
	if err == nil && l.prepare != nil {
		if err = l.prepare(p); err == nil {
			err = p.Validate()
		}
	}
	if err == nil {
		err = l.exec.Update(p)
	}
	if err != nil {
		l.log.Error("agentlink: profile refused; keeping the current one", "etag", newTag, "err", err)
		return newTag, nil
	}
	l.log.Info("agentlink: profile applied", "etag", newTag)
	if err := l.store.Save(ProfileKey, data); err != nil {
		l.log.Error("agentlink: save profile", "err", err)
	} else if err := l.store.Save(etagKey, []byte(newTag)); err != nil {
		l.log.Error("agentlink: save etag", "err", err)
	}
	return newTag, nil
}

// commandLoop long-polls the commands and submits each to the executor.
func (l *Link) commandLoop(ctx context.Context) error {
	for {
		var cmds []afterhours.Command
		err := l.retry(ctx, "commands", func() error {
			resp, err := l.do(ctx, http.MethodGet, l.clientPath()+"/commands?wait="+PollWait.String(), nil, nil, http.StatusOK)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			cmds = nil
			return json.NewDecoder(resp.Body).Decode(&cmds)
		})
		if err != nil {
			return err
		}
		for _, c := range cmds {
			if err := l.handle(ctx, c); err != nil {
				return err
			}
		}
	}
}

// handle submits c and acknowledges it, only after Submit returned: a
// crash between the two re-delivers c, and the executor's dedup by id
// (ErrDuplicateCommand, acked "accepted") keeps it run-once.
func (l *Link) handle(ctx context.Context, c afterhours.Command) error {
	ack := map[string]string{"result": "accepted"}
	switch err := l.exec.Submit(c); {
	case err == nil, errors.Is(err, afterhours.ErrDuplicateCommand):
	case errors.Is(err, afterhours.ErrKilled):
		ack = map[string]string{"result": "refused", "reason": "killed"}
	case errors.Is(err, afterhours.ErrNotForSite):
		ack = map[string]string{"result": "refused", "reason": "not for this site"}
	default:
		ack = map[string]string{"result": "refused", "reason": err.Error()}
	}
	body, _ := json.Marshal(ack)
	l.log.Info("agentlink: command", "id", c.ID, "result", ack["result"], "reason", ack["reason"])
	return l.retry(ctx, "ack "+c.ID, func() error {
		resp, err := l.do(ctx, http.MethodPost, l.clientPath()+"/commands/"+url.PathEscape(c.ID)+"/ack", body, nil, http.StatusOK)
		var se *statusError
		if errors.As(err, &se) && se.code >= 400 && se.code < 500 && se.code != http.StatusUnauthorized && se.code != http.StatusForbidden {
			// The server will not take this ack (the command was removed, or
			// acked otherwise before): retrying cannot mend it.
			l.log.Error("agentlink: ack refused by the server", "id", c.ID, "err", err)
			return nil
		}
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
}
