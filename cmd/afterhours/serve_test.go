package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours/internal/testenv"
)

// fleetConfig is a small valid fleet config: one site, one sharing token,
// one set of tasks.
const fleetConfig = `{
  "sites": [{"name": "leeds", "timezone": "Europe/London", "tags": ["retail"],
    "business_hours": {"mon": ["08:00-18:00"], "tue": ["08:00-18:00"]}}],
  "sharing": [{"token": "pkg-repo", "zone": "UTC", "duration": "20m", "capacity": 4}],
  "sets": [{"name": "base", "housekeeping": [{"name": "rotate-logs", "run": ["/usr/sbin/logrotate"], "estimate": "2m"}]}]
}`

// syncBuffer is a bytes.Buffer the server's goroutines may write while a
// test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// served is a serve command running in a test.
type served struct {
	addr           string
	stdout, stderr *syncBuffer
	stop           func() int // cancels the context and returns the exit status
}

// startServe runs serve with args on a listener of 127.0.0.1:0; the
// listener accepts before serve starts, so requests need no waiting.
func startServe(t *testing.T, args ...string) *served {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &served{addr: ln.Addr().String(), stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	done := make(chan int, 1)
	go func() { done <- serve(ctx, args, s.stdout, s.stderr, ln) }()
	var once sync.Once
	code := -1
	s.stop = func() int {
		once.Do(func() {
			cancel()
			select {
			case code = <-done:
			case <-time.After(time.Minute):
				t.Fatal("serve did not stop within a minute of its context's end")
			}
		})
		return code
	}
	t.Cleanup(func() { s.stop() })
	return s
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

// request makes a request to the served fleet.
func request(t *testing.T, c *http.Client, method, url, token, body string, header ...string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header, data}
}

func (r reply) want(t *testing.T, status int) reply {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	return r
}

// generatedToken reads the admin token serve generated in dir.
func generatedToken(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, adminTokenFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %04o, want 0600", path, fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(data))
	if len(f) != 2 || f[0] != "admin" || len(f[1]) < 32 {
		t.Fatalf("%s holds %q, want \"admin TOKEN\"", path, data)
	}
	return f[1]
}

// TestServeRestart: serve creates its data directory (0700) and an admin
// token, takes a config and a client, enrols the client, serves its
// profile; stopped and started again on the same directory, it has the
// same admin token, the client, its agent token and its profile (same
// ETag).
func TestServeRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s := startServe(t, "-data", dir)
	base := "http://" + s.addr
	c := &http.Client{}
	// The first answer comes once serve has set up its directory.
	request(t, c, "GET", base+"/v1/config", "", "").want(t, http.StatusUnauthorized)

	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("data directory mode %04o, want 0700", fi.Mode().Perm())
	}
	admin := generatedToken(t, dir)
	request(t, c, "PUT", base+"/v1/config", admin, fleetConfig).want(t, http.StatusOK)
	r := request(t, c, "PUT", base+"/v1/clients/shop-1", admin, `{"site": "leeds"}`).want(t, http.StatusOK)
	var reg struct{ Code string }
	if err := json.Unmarshal(r.body, &reg); err != nil || reg.Code == "" {
		t.Fatalf("registration %s: %v", r.body, err)
	}
	r = request(t, c, "POST", base+"/v1/agent/enroll", "", `{"code": "`+reg.Code+`"}`).want(t, http.StatusOK)
	var enrolled struct{ Client, Token string }
	if err := json.Unmarshal(r.body, &enrolled); err != nil || enrolled.Client != "shop-1" || enrolled.Token == "" {
		t.Fatalf("enrolment %s: %v", r.body, err)
	}
	profileURL := base + "/v1/agent/clients/shop-1/profile"
	r = request(t, c, "GET", profileURL, enrolled.Token, "").want(t, http.StatusOK)
	etag := r.header.Get("ETag")
	if etag == "" || !bytes.Contains(r.body, []byte(`"rotate-logs"`)) {
		t.Fatalf("profile (ETag %q): %s", etag, r.body)
	}
	profile := r.body

	if code := s.stop(); code != exitOK {
		t.Fatalf("serve exited %d:\n%s", code, s.stderr)
	}
	errs := s.stderr.String()
	for _, want := range []string{"generated an admin token in " + filepath.Join(dir, adminTokenFile), "listening", "addr=" + s.addr, "tls=false", "stopped"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	if strings.Contains(errs, admin) || strings.Contains(s.stdout.String(), admin) {
		t.Error("the admin token was printed")
	}
	if s.stdout.String() != "" {
		t.Errorf("stdout: %q", s.stdout)
	}

	s = startServe(t, "-data", dir)
	base = "http://" + s.addr
	request(t, c, "GET", base+"/v1/config", "", "").want(t, http.StatusUnauthorized)
	if got := generatedToken(t, dir); got != admin {
		t.Error("the admin token changed across a restart")
	}
	if strings.Contains(s.stderr.String(), "generated") {
		t.Errorf("a second admin token was generated:\n%s", s.stderr)
	}
	r = request(t, c, "GET", base+"/v1/clients/shop-1", admin, "").want(t, http.StatusOK)
	if !bytes.Contains(r.body, []byte(`"enrolled":true`)) {
		t.Errorf("client after restart: %s", r.body)
	}
	request(t, c, "GET", base+"/v1/agent/clients/shop-1/profile", enrolled.Token, "", "If-None-Match", etag).want(t, http.StatusNotModified)
	r = request(t, c, "GET", base+"/v1/agent/clients/shop-1/profile", enrolled.Token, "").want(t, http.StatusOK)
	if r.header.Get("ETag") != etag || !bytes.Equal(r.body, profile) {
		t.Errorf("profile after restart (ETag %q, want %q):\n%s\nwant\n%s", r.header.Get("ETag"), etag, r.body, profile)
	}
	if code := s.stop(); code != exitOK {
		t.Fatalf("serve exited %d:\n%s", code, s.stderr)
	}
}

// TestServeLongPollEndsOnStop: a long-poll waiting for a new profile
// answers (304) as soon as serve is stopped, and serve exits 0.
func TestServeLongPollEndsOnStop(t *testing.T) {
	polling := make(chan struct{}, 1)
	wrapHandler = func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("wait") != "" {
				polling <- struct{}{}
			}
			h.ServeHTTP(w, r)
		})
	}
	t.Cleanup(func() { wrapHandler = nil })
	dir := filepath.Join(t.TempDir(), "data")
	s := startServe(t, "-data", dir)
	base := "http://" + s.addr
	c := &http.Client{}
	request(t, c, "GET", base+"/v1/config", "", "").want(t, http.StatusUnauthorized)
	admin := generatedToken(t, dir)
	enrolled := enrolShop(t, c, base, admin)
	profileURL := base + "/v1/agent/clients/shop-1/profile"
	etag := request(t, c, "GET", profileURL, enrolled.Token, "").want(t, http.StatusOK).header.Get("ETag")

	polled := make(chan reply, 1)
	go func() {
		req, _ := http.NewRequest("GET", profileURL+"?wait=5m", nil)
		req.Header.Set("Authorization", "Bearer "+enrolled.Token)
		req.Header.Set("If-None-Match", etag)
		resp, err := c.Do(req)
		if err != nil {
			polled <- reply{status: -1, body: []byte(err.Error())}
			return
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		polled <- reply{status: resp.StatusCode, body: data}
	}()
	// Once the poll has reached the handler, the shutdown waits for it.
	<-polling
	if code := s.stop(); code != exitOK {
		t.Fatalf("serve exited %d:\n%s", code, s.stderr)
	}
	got := <-polled
	if got.status != http.StatusNotModified {
		t.Fatalf("the long-poll got %d %s, want 304", got.status, got.body)
	}
	if strings.Contains(s.stderr.String(), "shutdown") {
		t.Errorf("the shutdown ran out of time:\n%s", s.stderr)
	}
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key
// (PEM, mode 0600) in dir and returns their paths and a pool that trusts
// the certificate.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "afterhours test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, pool
}

// writeTokens writes a tokens file of the given mode.
func writeTokens(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}

// TestServeTLS: with -tls-cert and -tls-key, serve speaks HTTPS only, TLS
// 1.2 at least, to a client that trusts its certificate; the tokens of
// -tokens act with their roles, and no admin.token is generated.
func TestServeTLS(t *testing.T) {
	tmp := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, tmp)
	tokens := filepath.Join(tmp, "tokens")
	writeTokens(t, tokens, "# roles\nview view-token-0123456789\n\nadmin admin-token-0123456789\n", 0o600)
	dir := filepath.Join(tmp, "data")
	s := startServe(t, "-data", dir, "-tls-cert", certFile, "-tls-key", keyFile, "-tokens", tokens)

	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	base := "https://" + s.addr
	request(t, c, "PUT", base+"/v1/config", "view-token-0123456789", fleetConfig).want(t, http.StatusForbidden)
	request(t, c, "PUT", base+"/v1/config", "admin-token-0123456789", fleetConfig).want(t, http.StatusOK)
	request(t, c, "GET", base+"/v1/config", "view-token-0123456789", "").want(t, http.StatusOK)

	// Plain HTTP to the TLS port reaches no endpoint: Go's TLS server
	// answers 400 "Client sent an HTTP request to an HTTPS server".
	r := request(t, &http.Client{}, "GET", "http://"+s.addr+"/v1/config", "view-token-0123456789", "")
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "HTTPS server") {
		t.Errorf("plain HTTP to the TLS port: %d %s", r.status, r.body)
	}
	// TLS 1.1 is refused.
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11}}}
	if _, err := old.Get(base + "/v1/config"); err == nil {
		t.Error("a TLS 1.1 client was served")
	}
	// A client that does not trust the certificate fails.
	if _, err := (&http.Client{}).Get(base + "/v1/config"); err == nil {
		t.Error("a client that does not trust the certificate was served")
	}

	if code := s.stop(); code != exitOK {
		t.Fatalf("serve exited %d:\n%s", code, s.stderr)
	}
	if !strings.Contains(s.stderr.String(), "tls=true") {
		t.Errorf("the start line does not say TLS is on:\n%s", s.stderr)
	}
	if _, err := os.Lstat(filepath.Join(dir, adminTokenFile)); err == nil {
		t.Error("admin.token was generated although -tokens was given")
	}
}

// TestServeRefuses: a data directory or a tokens file that another user
// could have written or read, and bad command lines, are refused before
// anything is served or created.
func TestServeRefuses(t *testing.T) {
	tmp := t.TempDir()
	open := filepath.Join(tmp, "open")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(tmp, "good")
	if err := os.Mkdir(good, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(tmp, "link")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	notDir := filepath.Join(tmp, "file")
	writeTokens(t, notDir, "", 0o600)
	readable := filepath.Join(tmp, "readable.tokens")
	writeTokens(t, readable, "admin admin-token-0123456789\n", 0o644)
	short := filepath.Join(tmp, "short.tokens")
	writeTokens(t, short, "admin short\n", 0o600)
	badRole := filepath.Join(tmp, "role.tokens")
	writeTokens(t, badRole, "root admin-token-0123456789\n", 0o600)
	tokLink := filepath.Join(tmp, "link.tokens")
	if err := os.Symlink(badRole, tokLink); err != nil {
		t.Fatal(err)
	}
	certFile, _, _ := selfSigned(t, tmp)
	openDB := filepath.Join(tmp, "opendb")
	if err := os.Mkdir(openDB, 0o700); err != nil {
		t.Fatal(err)
	}
	writeTokens(t, filepath.Join(openDB, storeFile), "", 0o666)

	cases := []struct {
		name string
		args []string
		code int
		errs string
	}{
		{"writable by others", []string{"-data", open}, exitFailed, "writable by group or others (mode 0777)"},
		{"a symbolic link", []string{"-data", link}, exitFailed, "it is a symbolic link"},
		{"not a directory", []string{"-data", notDir}, exitFailed, "it is not a directory"},
		{"tokens readable by others", []string{"-data", good, "-tokens", readable}, exitFailed, "group or others may read it (mode 0644): want 0600 or stricter"},
		{"a short token", []string{"-data", good, "-tokens", short}, exitFailed, "short.tokens:1: the token is shorter than 16 bytes"},
		{"an unknown role", []string{"-data", good, "-tokens", badRole}, exitFailed, `role.tokens:1: unknown role "root"`},
		{"tokens through a link", []string{"-data", good, "-tokens", tokLink}, exitFailed, "it is a symbolic link"},
		{"a store writable by others", []string{"-data", openDB}, exitFailed, "fleet.db: it is writable by group or others (mode 0666)"},
		{"no -data", nil, exitUsage, "-data is required"},
		{"a certificate without its key", []string{"-data", good, "-tls-cert", certFile}, exitUsage, "-tls-cert and -tls-key go together"},
		{"an argument", []string{"-data", good, "extra"}, exitUsage, "want 0 argument(s), got 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // a command that were not refused would stop at once
			code := serve(ctx, c.args, &out, &errOut, nil)
			if code != c.code || !strings.Contains(errOut.String(), c.errs) {
				t.Errorf("exit %d, want %d; stderr lacks %q:\n%s", code, c.code, c.errs, errOut.String())
			}
		})
	}
	for _, d := range []string{open, good, openDB} {
		if entries, _ := os.ReadDir(d); len(entries) != 0 && (d != openDB || len(entries) != 1) {
			t.Errorf("%s: a refused serve created %d file(s)", d, len(entries))
		}
	}
}

// TestServeBinary runs the built command as a user does: it says where it
// listens on stderr, serves, and exits 0 on SIGTERM.
func TestServeBinary(t *testing.T) {
	gotool := goTool()
	testenv.Require(t, gotool != "", "the go command is needed to build the binary")
	bin := filepath.Join(t.TempDir(), "afterhours")
	if out, err := exec.Command(gotool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := filepath.Join(t.TempDir(), "data")
	cmd := exec.Command(bin, "serve", "-data", dir, "-listen", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	// Wait for the start line, which names the address.
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	addrRE := regexp.MustCompile(`addr=(\S+)`)
	deadline := time.After(time.Minute)
	addr := ""
	var seen []string
	for addr == "" {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("serve ended before listening:\n%s", strings.Join(seen, "\n"))
			}
			seen = append(seen, line)
			if m := addrRE.FindStringSubmatch(line); m != nil && strings.Contains(line, "listening") {
				addr = m[1]
			}
		case <-deadline:
			t.Fatalf("no start line within a minute:\n%s", strings.Join(seen, "\n"))
		}
	}
	request(t, &http.Client{}, "GET", "http://"+addr+"/v1/config", generatedToken(t, dir), "").want(t, http.StatusOK)

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for line := range lines {
		seen = append(seen, line)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve after SIGTERM: %v\n%s", err, strings.Join(seen, "\n"))
	}
	if !strings.Contains(strings.Join(seen, "\n"), "stopped") {
		t.Errorf("no line says serve stopped:\n%s", strings.Join(seen, "\n"))
	}
}

func TestListenAddr(t *testing.T) {
	for _, c := range []struct {
		listen string
		tls    bool
		want   string
	}{
		{"", false, "127.0.0.1:8080"},
		{"", true, "127.0.0.1:8443"},
		{":9000", true, ":9000"},
	} {
		if got := listenAddr(c.listen, c.tls); got != c.want {
			t.Errorf("listenAddr(%q, %v) = %q, want %q", c.listen, c.tls, got, c.want)
		}
	}
}

// enrolShop puts fleetConfig with the admin token, registers the client
// shop-1 at leeds and enrols it through the agent API; it returns the
// client's token.
func enrolShop(t *testing.T, c *http.Client, base, admin string) (enrolled struct{ Token string }) {
	t.Helper()
	request(t, c, "PUT", base+"/v1/config", admin, fleetConfig).want(t, http.StatusOK)
	r := request(t, c, "PUT", base+"/v1/clients/shop-1", admin, `{"site": "leeds"}`).want(t, http.StatusOK)
	var reg struct{ Code string }
	if err := json.Unmarshal(r.body, &reg); err != nil {
		t.Fatal(err)
	}
	r = request(t, c, "POST", base+"/v1/agent/enroll", "", `{"code": "`+reg.Code+`"}`).want(t, http.StatusOK)
	if err := json.Unmarshal(r.body, &enrolled); err != nil {
		t.Fatal(err)
	}
	return enrolled
}
