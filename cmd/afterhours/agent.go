package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/afterhours-go/afterhours/agentlink"
)

const agentUsage = "agent -state DIR [-server URL] [-enroll CODE [-reenroll]] [-ca FILE]"

// agentHTTPTimeout bounds one request of the agent: longer than the
// long-poll the link asks for, so that a waiting poll is never cut short.
const agentHTTPTimeout = agentlink.PollWait + time.Minute

// runAgent is the agent command: it runs until SIGINT or SIGTERM.
func runAgent(args []string, stdout, stderr io.Writer, _ time.Time) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return agent(ctx, args, stdout, stderr)
}

// agent runs the agent until ctx is done, then stops the link and the
// executor (runs in flight are stopped as [afterhours.Executor.Run] says)
// and returns 0.
func agent(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("agent", agentUsage)
	state := f.String("state", "", "the agent's state `DIR`ectory (created 0700): journal, credentials (0600), last profile")
	serverURL := f.String("server", "", "the fleet server's `URL` (https; http only to a loopback host); required with -enroll")
	code := f.String("enroll", "", "enrol with this one-time `CODE` from the server's admin API, then run")
	reenroll := f.Bool("reenroll", false, "with -enroll, replace the credentials the state directory already holds")
	caFile := f.String("ca", "", "a PEM `FILE` of CA certificates to trust for the server, besides the system's")
	if _, code, stop := f.parse(args, 0, stdout, stderr); stop {
		return code
	}
	switch {
	case *state == "":
		return f.usageError(stderr, "-state is required")
	case *code != "" && *serverURL == "":
		return f.usageError(stderr, "-enroll needs -server")
	case *reenroll && *code == "":
		return f.usageError(stderr, "-reenroll goes with -enroll")
	}
	if *serverURL != "" {
		u, err := checkServerURL(*serverURL)
		if err != nil {
			return f.usageError(stderr, "-server: %v", err)
		}
		*serverURL = u
	}
	client, err := agentHTTPClient(*caFile)
	if err != nil {
		return failed("agent", stderr, err)
	}
	// OpenFileStore creates the directory (0700) and refuses one that is
	// not trusted, as serve's data directory is refused.
	store, err := afterhours.OpenFileStore(*state)
	if err != nil {
		return failed("agent", stderr, err)
	}
	defer store.Close()

	creds, err := agentCredentials(ctx, store, *serverURL, *code, *reenroll, client)
	if err != nil {
		return failed("agent", stderr, err)
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	log.Info("afterhours agent: starting", "client", creds.Client, "server", creds.Server, "state", *state)

	p, err := agentlink.LastProfile(store)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		log.Warn("afterhours agent: no profile yet, and the agent cannot plan without one: waiting for the server to serve it")
		p, err = fetchProfile(ctx, client, creds, log, time.After)
	case err != nil && !errors.Is(err, afterhours.ErrUnsafeState):
		// A stored profile this version cannot use: the server's is.
		log.Warn("afterhours agent: the stored profile is unusable; waiting for the server to serve one", "err", err)
		p, err = fetchProfile(ctx, client, creds, log, time.After)
	}
	if ctx.Err() != nil {
		log.Info("afterhours agent: stopped before it had a profile")
		return exitOK
	}
	if err != nil {
		return failed("agent", stderr, err)
	}
	a, err := newAgent(p, store, creds, client, log)
	if err != nil {
		return failed("agent", stderr, err)
	}
	if err := a.run(ctx); err != nil {
		return failed("agent", stderr, err)
	}
	log.Info("afterhours agent: stopped")
	return exitOK
}

// checkServerURL returns the server's URL without a trailing slash, or why
// it is refused: an https URL, or an http one whose host is a loopback
// address or "localhost" (the bearer token must not travel in clear over
// a network).
func checkServerURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q: want https://HOST[:PORT][/PATH]", raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !loopback(u.Hostname()) {
			return "", fmt.Errorf("%q: plain http is allowed only to a loopback host (the token would travel in clear): use https", raw)
		}
	default:
		return "", fmt.Errorf("%q: want an https URL", raw)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// loopback reports whether host is "localhost" or a loopback IP address.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// agentHTTPClient returns the agent's HTTP client: TLS 1.2 at least,
// trusting the system's CAs and those of caFile (PEM) when given.
func agentHTTPClient(caFile string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("-ca: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-ca %s: no PEM certificate in it", caFile)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	return &http.Client{Transport: tr, Timeout: agentHTTPTimeout}, nil
}

// agentCredentials enrols with code when given (refusing to replace stored
// credentials unless reenroll), else loads the stored ones; serverURL, when
// given without a code, replaces the stored server's URL (the server
// moved), and is saved.
func agentCredentials(ctx context.Context, store *afterhours.FileStore, serverURL, code string, reenroll bool, client *http.Client) (agentlink.Credentials, error) {
	old, err := agentlink.LoadCredentials(store)
	switch {
	case err != nil && !errors.Is(err, agentlink.ErrNoCredentials):
		return agentlink.Credentials{}, err
	case code != "" && err == nil && !reenroll:
		return agentlink.Credentials{}, fmt.Errorf("%s already holds the credentials of client %q: run without -enroll, or add -reenroll to replace them", store.Where(agentlink.CredentialsKey), old.Client)
	case code == "" && err != nil:
		return agentlink.Credentials{}, errors.New("not enrolled: run once with -server URL -enroll CODE, the code the server's admin API gave when the client was registered")
	}
	if code == "" {
		if serverURL == "" || serverURL == old.Server {
			_, err := checkServerURL(old.Server)
			return old, err
		}
		old.Server = serverURL
		return old, agentlink.SaveCredentials(store, old)
	}
	creds, err := agentlink.Enroll(ctx, serverURL, code, client)
	if err != nil {
		return agentlink.Credentials{}, err
	}
	return creds, agentlink.SaveCredentials(store, creds)
}

// fetchProfile asks the server for the client's profile until it serves
// one that parses, waiting [agentlink.Backoff] (on after) between attempts.
// A token the server refuses (401, 403) ends it, as does ctx.
func fetchProfile(ctx context.Context, client *http.Client, creds agentlink.Credentials, log *slog.Logger, after func(time.Duration) <-chan time.Time) (*afterhours.Profile, error) {
	path := creds.Server + "/v1/agent/clients/" + url.PathEscape(creds.Client) + "/profile"
	for attempt := 0; ; attempt++ {
		p, status, err := getProfile(ctx, client, path, creds.Token)
		if err == nil {
			return p, nil
		}
		if status == http.StatusUnauthorized || status == http.StatusForbidden {
			return nil, fmt.Errorf("the server refuses the token: %w", err)
		}
		d := agentlink.Backoff(attempt, rand.Float64)
		log.Warn("afterhours agent: no profile yet; retrying", "err", err, "in", d)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-after(d):
		}
	}
}

// getProfile is one GET of the profile; it returns the answer's status.
func getProfile(ctx context.Context, client *http.Client, path, token string) (*afterhours.Profile, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, resp.StatusCode, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(data)))
	}
	p, err := afterhours.ParseProfile(data)
	return p, resp.StatusCode, err
}

// agentParts is an agent's executor and its link to the server.
type agentParts struct {
	exec *afterhours.Executor
	link *agentlink.Link
	log  *slog.Logger
}

// newAgent wires the executor (real processes, the state in store) and
// the link to the server. Whatever else joins the executor to the server
// is wired here.
func newAgent(p *afterhours.Profile, store afterhours.Store, creds agentlink.Credentials, client *http.Client, log *slog.Logger) (*agentParts, error) {
	// The executor's notices (failed lists, stops, kills) wait in an outbox
	// in the store until the link has posted them to the server.
	notices := agentlink.NewNotifier(store)
	exec, err := afterhours.NewExecutor(p, afterhours.WithStore(store), afterhours.WithLogger(log), afterhours.WithNotifier(notices))
	if err != nil {
		return nil, err
	}
	link, err := agentlink.New(exec, store, creds, agentlink.WithHTTPClient(client), agentlink.WithLogger(log),
		agentlink.WithNotices(notices))
	if err != nil {
		return nil, err
	}
	return &agentParts{exec: exec, link: link, log: log}, nil
}

// run runs the executor and the link until ctx ends. A link that stops
// (token revoked, client removed) is logged and the executor goes on from
// the profile it has: maintenance never stops for the server. It returns
// the executor's error (its store failed), after stopping the link.
func (a *agentParts) run(ctx context.Context) error {
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := a.link.Run(lctx); err != nil && lctx.Err() == nil {
			a.log.Error("afterhours agent: the link to the server stopped; maintaining from the last profile", "err", err)
		}
	})
	err := a.exec.Run(ctx)
	cancel()
	wg.Wait()
	return err
}
