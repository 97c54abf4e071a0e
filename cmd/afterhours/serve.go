package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/afterhours-go/afterhours/server"

	"github.com/afterhours-go/afterhours/internal/trust"
)

// Files of the serve command's data directory.
const (
	storeFile      = "fleet.db"    // the bbolt store
	adminTokenFile = "admin.token" // the tokens file when -tokens is not given
)

// The serve command's HTTP timeouts. The agent's long-poll of its profile
// waits up to 5 minutes (the server's longest ?wait), so an answer may be
// written that long after the request was read: writeTimeout exceeds it.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 5*time.Minute + 30*time.Second
	idleTimeout       = 2 * time.Minute
	shutdownTimeout   = 10 * time.Second
)

const serveUsage = "serve -data DIR [-listen ADDR] [-tls-cert FILE -tls-key FILE] [-tokens FILE] [-webhook URL [-webhook-token-file FILE]] [-etcd URLS [-etcd-prefix P] [-advertise URL] [-etcd-lease-ttl D]]"

// runServe is the serve command: it serves until SIGINT or SIGTERM.
func runServe(args []string, stdout, stderr io.Writer, _ time.Time) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, args, stdout, stderr, nil)
}

// serve runs the fleet server until ctx is done, then shuts it down: it
// stops accepting, lets the requests in flight finish (the long-polls
// answer at once, as when their wait ends) for up to shutdownTimeout, and
// closes the store. It listens on ln when not nil (tests), else on -listen;
// either way it closes the listener before it returns.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer, ln net.Listener) int {
	if ln != nil {
		defer ln.Close()
	}
	f := newFlags("serve", serveUsage)
	dir := f.String("data", "", "the data directory (created 0700): the store `DIR`/fleet.db (unless -etcd), and DIR/admin.token")
	listen := f.String("listen", "", "the `ADDR`ess to listen on (default 127.0.0.1:8443 with TLS, 127.0.0.1:8080 without)")
	certFile := f.String("tls-cert", "", "the TLS certificate `FILE` (PEM, with -tls-key)")
	keyFile := f.String("tls-key", "", "the TLS private key `FILE` (PEM, with -tls-cert)")
	tokensFile := f.String("tokens", "", "the admin tokens `FILE`: lines \"ROLE TOKEN\", ROLE view, operate or admin; mode 0600 or stricter (default DIR/admin.token, generated with one admin token)")
	webhook := f.String("webhook", "", "the `URL` that the agents' notices (failed lists, stops, kills) are POSTed to as JSON, retried until it answers 2xx")
	webhookTokenFile := f.String("webhook-token-file", "", "a `FILE` (mode 0600 or stricter) whose content is sent to -webhook as a bearer token")
	etcdFlags := addEtcdFlags(f)
	if _, code, stop := f.parse(args, 0, stdout, stderr); stop {
		return code
	}
	set := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	listenOn := listenAddr(*listen, *certFile != "")
	if ln != nil {
		listenOn = ln.Addr().String()
	}
	if msg := etcdFlags.check(set, listenOn); msg != "" {
		return f.usageError(stderr, "%s", msg)
	}
	onEtcd := etcdFlags.endpoints != ""
	switch {
	case *dir == "":
		return f.usageError(stderr, "-data is required")
	case (*certFile == "") != (*keyFile == ""):
		return f.usageError(stderr, "-tls-cert and -tls-key go together")
	case *webhookTokenFile != "" && *webhook == "":
		return f.usageError(stderr, "-webhook-token-file needs -webhook")
	}
	useTLS := *certFile != ""

	var tlsConfig *tls.Config
	var cert *tls.Certificate
	if useTLS {
		c, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			return failed("serve", stderr, fmt.Errorf("TLS: %w", err))
		}
		cert = &c
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{c}}
	}
	if err := dataDir(*dir); err != nil {
		return failed("serve", stderr, err)
	}
	dbPath := filepath.Join(*dir, storeFile)
	if fi, err := os.Lstat(dbPath); err == nil && !onEtcd {
		if err := trustedPath(dbPath, fi, false); err != nil {
			return failed("serve", stderr, err)
		}
	}
	tokens := *tokensFile
	if tokens == "" {
		tokens = filepath.Join(*dir, adminTokenFile)
		created, err := ensureAdminToken(tokens)
		if err != nil {
			return failed("serve", stderr, err)
		}
		if created {
			fmt.Fprintf(stderr, "afterhours serve: generated an admin token in %s (its line \"admin TOKEN\")\n", tokens)
		}
	}
	opts, err := readTokens(tokens)
	if err != nil {
		return failed("serve", stderr, err)
	}
	if *webhook != "" {
		hook, err := newWebhook(*webhook, *webhookTokenFile)
		if err != nil {
			return failed("serve", stderr, err)
		}
		opts = append(opts, server.WithNotifier(hook))
	}

	if ln == nil {
		var err error
		ln, err = net.Listen("tcp", listenOn)
		if err != nil {
			return failed("serve", stderr, err)
		}
		defer ln.Close()
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))

	// The store: bbolt in the data directory, or etcd shared with the
	// other replicas, with the leader election.
	var store server.Store
	var rep *replica
	storeAttr := slog.String("data", *dir)
	if onEtcd {
		advertise := etcdFlags.advertised(ln, useTLS)
		var err error
		if rep, err = openReplica(etcdFlags, advertise, log); err != nil {
			return failed("serve", stderr, err)
		}
		ropts, err := rep.options(cert)
		if err != nil {
			rep.close()
			return failed("serve", stderr, err)
		}
		store, opts = rep.store, append(opts, ropts...)
		storeAttr = slog.Group("etcd", "endpoints", etcdFlags.endpoints, "prefix", rep.store.Prefix(), "advertise", advertise)
	} else {
		bolt, err := server.OpenBoltStore(dbPath)
		if err != nil {
			return failed("serve", stderr, err)
		}
		store = bolt
	}
	closeStore := sync.OnceValue(func() error {
		if rep != nil {
			return rep.close()
		}
		return store.Close()
	})
	defer closeStore()
	h, err := server.New(store, opts...)
	if err != nil {
		return failed("serve", stderr, err)
	}
	defer h.Close()

	var handler http.Handler = h
	if wrapHandler != nil {
		handler = wrapHandler(handler)
	}
	srv := &http.Server{
		Handler:           handler,
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		// Requests end with ctx, so a long-poll answers at once on shutdown.
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	log.Info("afterhours serve: listening", "addr", ln.Addr().String(), "tls", useTLS, storeAttr)
	done := make(chan error, 1)
	go func() {
		if useTLS {
			done <- srv.ServeTLS(ln, "", "")
		} else {
			done <- srv.Serve(ln)
		}
	}()
	// The notices' delivery ends with ctx; an undelivered one is sent
	// at the next start.
	rctx, stopDelivery := context.WithCancel(ctx)
	delivered := make(chan struct{})
	go func() { h.Run(rctx); close(delivered) }()
	defer func() { stopDelivery(); <-delivered }()
	select {
	case err := <-done:
		return failed("serve", stderr, err)
	case <-ctx.Done():
	}
	if rep != nil {
		// Hand the leadership over first, so that another replica leads
		// while this one finishes its requests.
		rep.resign()
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("afterhours serve: shutdown", "err", err)
		srv.Close()
	}
	<-done
	<-delivered
	h.Close()
	if err := closeStore(); err != nil {
		return failed("serve", stderr, err)
	}
	log.Info("afterhours serve: stopped")
	return exitOK
}

// listenAddr returns the address of -listen, or its default: port 8443 of
// the loopback with TLS, 8080 without.
func listenAddr(listen string, useTLS bool) string {
	switch {
	case listen != "":
		return listen
	case useTLS:
		return "127.0.0.1:8443"
	}
	return "127.0.0.1:8080"
}

// wrapHandler, when a test sets it, wraps the fleet's handler, so that the
// test sees when a request reaches it.
var wrapHandler func(http.Handler) http.Handler

// dataDir creates dir (mode 0700) when missing and checks that it can be
// trusted: a directory, not a symbolic link, of this user, not writable by
// group or others, as the agent's state directory (afterhours.FileStore).
func dataDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("data directory: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	return trustedPath(dir, fi, true)
}

// trustedPath checks the lstat of path under the rule the executor's
// FileStore keeps too (internal/trust): a directory when dir is set, else
// a regular file; of this process's effective user; not writable by group
// or others.
func trustedPath(path string, fi fs.FileInfo, dir bool) error {
	if why := trust.Why(fi, dir); why != "" {
		return fmt.Errorf("refusing %s: %s", path, why)
	}
	return nil
}

// ensureAdminToken creates the tokens file at path with one generated
// admin token (32 random bytes, base64url), mode 0600, unless it exists;
// it reports whether it created it.
func ensureAdminToken(path string) (bool, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return false, err
	}
	line := "admin " + base64.RawURLEncoding.EncodeToString(raw) + "\n"
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("admin token: %w", err)
	}
	_, err = f.WriteString(line)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return false, fmt.Errorf("admin token: %w", err)
	}
	return true, nil
}

// newWebhook returns the webhook of -webhook: an http or https URL, with
// the token read from tokenFile when given (the file's content, trimmed;
// a regular file of this user that group and others can neither read nor
// write).
func newWebhook(rawURL, tokenFile string) (*server.Webhook, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("-webhook %q: want an http or https URL", rawURL)
	}
	hook := &server.Webhook{URL: u.String()}
	if tokenFile == "" {
		return hook, nil
	}
	f, err := os.OpenFile(tokenFile, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("refusing webhook token file %s: it is a symbolic link", tokenFile)
	}
	if err != nil {
		return nil, fmt.Errorf("webhook token file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("webhook token file: %w", err)
	}
	if err := trustedPath(tokenFile, fi, false); err != nil {
		return nil, fmt.Errorf("webhook token file: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("webhook token file: refusing %s: group or others may read it (mode %04o): want 0600 or stricter", tokenFile, perm)
	}
	data, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return nil, fmt.Errorf("webhook token file: %w", err)
	}
	if hook.Token = strings.TrimSpace(string(data)); hook.Token == "" {
		return nil, fmt.Errorf("webhook token file %s is empty", tokenFile)
	}
	return hook, nil
}

// readTokens reads the admin tokens file: a line "ROLE TOKEN" a token,
// ROLE view, operate or admin; blank lines and lines starting with # are
// skipped. The file must be a regular file (not a symbolic link) of this
// user that group and others can neither read nor write (0600 or
// stricter), since its tokens are secrets.
func readTokens(path string) ([]server.Option, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("refusing tokens file %s: it is a symbolic link", path)
	}
	if err != nil {
		return nil, fmt.Errorf("tokens file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("tokens file: %w", err)
	}
	if err := trustedPath(path, fi, false); err != nil {
		return nil, fmt.Errorf("tokens file: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("tokens file: refusing %s: group or others may read it (mode %04o): want 0600 or stricter", path, perm)
	}
	data, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("tokens file: %w", err)
	}
	roles := map[string]server.Role{"view": server.RoleView, "operate": server.RoleOperate, "admin": server.RoleAdmin}
	var opts []server.Option
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			return nil, fmt.Errorf("tokens file %s:%d: want \"ROLE TOKEN\"", path, n)
		}
		role, ok := roles[fields[0]]
		if !ok {
			return nil, fmt.Errorf("tokens file %s:%d: unknown role %q: want view, operate or admin", path, n, fields[0])
		}
		if len(fields[1]) < 16 {
			return nil, fmt.Errorf("tokens file %s:%d: the token is shorter than 16 bytes", path, n)
		}
		opts = append(opts, server.WithAdminToken(fields[1], role))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("tokens file %s: %w", path, err)
	}
	if len(opts) == 0 {
		return nil, fmt.Errorf("tokens file %s: no token", path)
	}
	return opts, nil
}
