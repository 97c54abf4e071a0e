package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours/agentlink"
	"github.com/afterhours-go/afterhours/internal/testenv"
)

// agentFleetConfig is a fleet of one site whose housekeeping runs
// /bin/true.
const agentFleetConfig = `{
  "sites": [{"name": "leeds", "timezone": "Europe/London", "tags": ["retail"],
    "business_hours": {"mon": ["08:00-18:00"], "tue": ["08:00-18:00"]}}],
  "sets": [{"name": "base", "housekeeping": [{"name": "noop", "run": ["/bin/true"], "estimate": "1m"}]}]
}`

// waitFor polls cond every 20 ms until it holds, failing the test after a
// minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(time.Minute)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("no %s within a minute", what)
		}
	}
}

// agentProc is an agent command running as a process.
type agentProc struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan error
}

func startAgent(t *testing.T, bin string, args ...string) *agentProc {
	t.Helper()
	a := &agentProc{cmd: exec.Command(bin, append([]string{"agent"}, args...)...), stderr: &syncBuffer{}, done: make(chan error, 1)}
	a.cmd.Stderr = a.stderr
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { a.done <- a.cmd.Wait() }()
	t.Cleanup(func() { a.cmd.Process.Kill(); <-a.done })
	return a
}

// stop sends SIGTERM and returns the exit status.
func (a *agentProc) stop(t *testing.T) int {
	t.Helper()
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-a.done:
		a.done <- err // for the cleanup
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(time.Minute):
		t.Fatalf("the agent did not stop within a minute of SIGTERM:\n%s", a.stderr)
		return -1
	}
}

// commandState returns the state of the client's command id, "" when it
// is not listed.
func commandState(t *testing.T, base, admin, client, id string) string {
	r := request(t, &http.Client{}, "GET", base+"/v1/clients/"+client+"/commands", admin, "").want(t, http.StatusOK)
	var cmds []struct{ ID, State, Reason string }
	if err := json.Unmarshal(r.body, &cmds); err != nil {
		t.Fatalf("commands %s: %v", r.body, err)
	}
	for _, c := range cmds {
		if c.ID == id {
			return c.State
		}
	}
	return ""
}

// runCommand queues a command that touches file for client, and waits
// until the agent acknowledges it "accepted" and the file exists.
func runCommand(t *testing.T, base, admin, client, id, file string, a *agentProc) {
	t.Helper()
	touch, err := exec.LookPath("touch")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"id": id, "run": []string{touch, file}, "clients": []string{client}})
	request(t, &http.Client{}, "POST", base+"/v1/commands", admin, string(body)).want(t, http.StatusOK)
	waitFor(t, "acknowledgement of "+id, func() bool {
		st := commandState(t, base, admin, client, id)
		if st != "" && st != "queued" && st != "accepted" {
			t.Fatalf("command %s: %s\n%s", id, st, a.stderr)
		}
		return st == "accepted"
	})
	waitFor(t, "file touched by "+id, func() bool { return fileExists(file) })
}

// TestAgentBinary runs `afterhours agent` as a process against serve (the
// server's handler on a bbolt store, on a loopback listener): it enrols
// with the code the admin API gave, the server sees it, its credentials
// are a 0600 file, a queued command is acknowledged "accepted" and runs,
// SIGTERM ends it with status 0; started again without -enroll it runs
// from the stored credentials; -enroll again is refused.
func TestAgentBinary(t *testing.T) {
	gotool := goTool()
	testenv.Require(t, gotool != "", "the go command is needed to build the binary")
	_, err := exec.LookPath("touch")
	testenv.Require(t, err == nil, "touch(1) is needed for the agent's command")
	bin := filepath.Join(t.TempDir(), "afterhours")
	if out, err := exec.Command(gotool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	s := startServe(t, "-data", dataDir)
	base := "http://" + s.addr
	c := &http.Client{}
	request(t, c, "GET", base+"/v1/config", "", "").want(t, http.StatusUnauthorized)
	admin := generatedToken(t, dataDir)
	request(t, c, "PUT", base+"/v1/config", admin, agentFleetConfig).want(t, http.StatusOK)
	r := request(t, c, "PUT", base+"/v1/clients/shop-1", admin, `{"site": "leeds"}`).want(t, http.StatusOK)
	var reg struct{ Code string }
	if err := json.Unmarshal(r.body, &reg); err != nil || reg.Code == "" {
		t.Fatalf("registration %s: %v", r.body, err)
	}

	state := filepath.Join(t.TempDir(), "state")
	work := t.TempDir()
	a := startAgent(t, bin, "-server", base, "-enroll", reg.Code, "-state", state)
	waitFor(t, "client seen by the server", func() bool {
		r := request(t, c, "GET", base+"/v1/status", admin, "").want(t, http.StatusOK)
		var st []struct {
			Client   string
			LastSeen time.Time `json:"last_seen"`
		}
		if err := json.Unmarshal(r.body, &st); err != nil {
			t.Fatalf("status %s: %v", r.body, err)
		}
		return len(st) == 1 && st[0].Client == "shop-1" && !st[0].LastSeen.IsZero()
	})
	r = request(t, c, "GET", base+"/v1/clients/shop-1", admin, "").want(t, http.StatusOK)
	if !strings.Contains(string(r.body), `"enrolled":true`) {
		t.Errorf("client after enrolment: %s", r.body)
	}
	if fi, err := os.Stat(state); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("state directory: %v, mode %v, want 0700", err, fi.Mode().Perm())
	}
	fi, err := os.Stat(filepath.Join(state, agentlink.CredentialsKey+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("credentials mode %04o, want 0600", fi.Mode().Perm())
	}
	runCommand(t, base, admin, "shop-1", "touch-1", filepath.Join(work, "one"), a)
	if !strings.Contains(a.stderr.String(), "no profile yet, and the agent cannot plan without one") {
		t.Errorf("the first run does not say it waits for a profile:\n%s", a.stderr)
	}
	if code := a.stop(t); code != exitOK {
		t.Fatalf("agent exited %d after SIGTERM:\n%s", code, a.stderr)
	}
	errs := a.stderr.String()
	for _, want := range []string{"afterhours agent: starting", "client=shop-1", "server=" + base, "state=" + state, "afterhours agent: stopped"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	if strings.Contains(errs, reg.Code) {
		t.Error("the enrolment code was logged")
	}

	// A restart runs from the stored credentials and the stored profile.
	a = startAgent(t, bin, "-state", state)
	runCommand(t, base, admin, "shop-1", "touch-2", filepath.Join(work, "two"), a)
	if code := a.stop(t); code != exitOK {
		t.Fatalf("restarted agent exited %d after SIGTERM:\n%s", code, a.stderr)
	}
	if errs := a.stderr.String(); !strings.Contains(errs, "client=shop-1") || strings.Contains(errs, "no profile yet") {
		t.Errorf("restarted agent's stderr:\n%s", errs)
	}
	if commandState(t, base, admin, "shop-1", "touch-1") != "accepted" {
		t.Error("touch-1 is no longer accepted")
	}

	// Enrolling again over stored credentials needs -reenroll.
	var out, errOut syncBuffer
	code := agent(context.Background(), []string{"-server", base, "-enroll", "some-code", "-state", state}, &out, &errOut)
	if code != exitFailed || !strings.Contains(errOut.String(), `credentials of client "shop-1"`) || !strings.Contains(errOut.String(), "-reenroll") {
		t.Errorf("-enroll over credentials: exit %d\n%s", code, errOut.String())
	}

	// With -reenroll, the state directory takes another client's
	// credentials.
	r = request(t, c, "PUT", base+"/v1/clients/shop-9", admin, `{"site": "leeds"}`).want(t, http.StatusOK)
	if err := json.Unmarshal(r.body, &reg); err != nil || reg.Code == "" {
		t.Fatalf("registration %s: %v", r.body, err)
	}
	runAgentBriefly(t, "-server", base, "-enroll", reg.Code, "-reenroll", "-state", state)
	if creds := storedCredentials(t, state); creds.Client != "shop-9" || creds.Server != base {
		t.Errorf("credentials after -reenroll: %+v", creds)
	}
	// A -server given without -enroll replaces the stored URL.
	moved := "http://localhost:" + s.addr[strings.LastIndex(s.addr, ":")+1:]
	runAgentBriefly(t, "-server", moved, "-state", state)
	if creds := storedCredentials(t, state); creds.Client != "shop-9" || creds.Server != moved {
		t.Errorf("credentials after -server %s: %+v", moved, creds)
	}
}

// runAgentBriefly runs the agent command in process until its start line,
// then ends its context and checks that it exits 0.
func runAgentBriefly(t *testing.T, args ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() { done <- agent(ctx, args, &out, &errOut) }()
	waitFor(t, "the agent's start line", func() bool {
		select {
		case code := <-done:
			t.Fatalf("agent %v exited %d before starting:\n%s", args, code, errOut.String())
		default:
		}
		return strings.Contains(errOut.String(), "afterhours agent: starting")
	})
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("agent %v exited %d:\n%s", args, code, errOut.String())
		}
	case <-time.After(time.Minute):
		t.Fatalf("agent %v did not stop within a minute of its context's end:\n%s", args, errOut.String())
	}
}

// storedCredentials reads the credentials in the state directory.
func storedCredentials(t *testing.T, state string) agentlink.Credentials {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(state, agentlink.CredentialsKey+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var c agentlink.Credentials
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestAgentRefuses: plain http to a remote host, an untrusted state
// directory, no credentials, and bad flag combinations are refused before
// anything is sent.
func TestAgentRefuses(t *testing.T) {
	tmp := t.TempDir()
	open := filepath.Join(tmp, "open")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(tmp, "fresh")
	cases := []struct {
		name string
		args []string
		code int
		errs string
	}{
		{"plain http to a remote host", []string{"-server", "http://192.0.2.7:8080", "-enroll", "c", "-state", fresh}, exitUsage, "plain http is allowed only to a loopback host"},
		{"plain http by name", []string{"-server", "http://fleet.example.com", "-enroll", "c", "-state", fresh}, exitUsage, "use https"},
		{"another scheme", []string{"-server", "ftp://127.0.0.1", "-enroll", "c", "-state", fresh}, exitUsage, "want an https URL"},
		{"state dir 0777", []string{"-server", "https://fleet.example.com", "-enroll", "c", "-state", open}, exitFailed, "writable by group or others"},
		{"not enrolled", []string{"-state", fresh}, exitFailed, "not enrolled: run once with -server URL -enroll CODE"},
		{"enroll without server", []string{"-enroll", "c", "-state", fresh}, exitUsage, "-enroll needs -server"},
		{"reenroll without enroll", []string{"-reenroll", "-state", fresh}, exitUsage, "-reenroll goes with -enroll"},
		{"bad CA file", []string{"-server", "https://fleet.example.com", "-enroll", "c", "-state", fresh, "-ca", filepath.Join(tmp, "none.pem")}, exitFailed, "-ca"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut syncBuffer
			code := agent(context.Background(), c.args, &out, &errOut)
			if code != c.code || !strings.Contains(errOut.String(), c.errs) {
				t.Errorf("exit %d (want %d), stderr (want %q):\n%s", code, c.code, c.errs, errOut.String())
			}
		})
	}
	if _, err := os.Stat(filepath.Join(fresh, agentlink.CredentialsKey+".json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("credentials written by a refused run: %v", err)
	}
}

func TestCheckServerURL(t *testing.T) {
	for _, c := range []struct{ in, out string }{
		{"https://fleet.example.com/", "https://fleet.example.com"},
		{"https://fleet.example.com:8443/afterhours/", "https://fleet.example.com:8443/afterhours"},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"http://[::1]:8080", "http://[::1]:8080"},
		{"http://localhost:8080", "http://localhost:8080"},
		{"http://10.0.0.1:8080", ""},
		{"https://user:pw@fleet.example.com", ""},
		{"fleet.example.com", ""},
	} {
		got, err := checkServerURL(c.in)
		if got != c.out || (err == nil) != (c.out != "") {
			t.Errorf("checkServerURL(%q) = %q, %v; want %q", c.in, got, err, c.out)
		}
	}
}

// TestAgentTLS: against serve with a certificate of a private CA, the
// agent fails to enrol without -ca (the certificate is not trusted, the
// code is not spent) and enrols with it; its context's end stops it with
// status 0.
func TestAgentTLS(t *testing.T) {
	tmp := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, tmp)
	tokens := filepath.Join(tmp, "tokens")
	writeTokens(t, tokens, "admin admin-token-0123456789\n", 0o600)
	s := startServe(t, "-data", filepath.Join(tmp, "data"), "-tls-cert", certFile, "-tls-key", keyFile, "-tokens", tokens)
	base := "https://" + s.addr
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	const admin = "admin-token-0123456789"
	request(t, c, "PUT", base+"/v1/config", admin, agentFleetConfig).want(t, http.StatusOK)
	r := request(t, c, "PUT", base+"/v1/clients/shop-2", admin, `{"site": "leeds"}`).want(t, http.StatusOK)
	var reg struct{ Code string }
	if err := json.Unmarshal(r.body, &reg); err != nil || reg.Code == "" {
		t.Fatalf("registration %s: %v", r.body, err)
	}
	state := filepath.Join(tmp, "state")

	var out, errOut syncBuffer
	if code := agent(context.Background(), []string{"-server", base, "-enroll", reg.Code, "-state", state}, &out, &errOut); code != exitFailed || !strings.Contains(errOut.String(), "certificate") {
		t.Fatalf("enrolment without -ca: exit %d\n%s", code, errOut.String())
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	errOut = syncBuffer{}
	go func() {
		done <- agent(ctx, []string{"-server", base, "-enroll", reg.Code, "-state", state, "-ca", certFile}, &out, &errOut)
	}()
	waitFor(t, "enrolment over TLS", func() bool {
		r := request(t, c, "GET", base+"/v1/clients/shop-2", admin, "").want(t, http.StatusOK)
		return strings.Contains(string(r.body), `"enrolled":true`)
	})
	waitFor(t, "the agent's start line", func() bool { return strings.Contains(errOut.String(), "afterhours agent: starting") })
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("agent exited %d:\n%s", code, errOut.String())
		}
	case <-time.After(time.Minute):
		t.Fatalf("the agent did not stop within a minute of its context's end:\n%s", errOut.String())
	}
	if !strings.Contains(errOut.String(), "server="+base) {
		t.Errorf("start line lacks the server:\n%s", errOut.String())
	}
}

// TestFetchProfile: with no stored profile the agent asks the server until
// it serves one, waiting a backoff between attempts (503, then a profile
// that does not parse, then a good one); a refused token ends it at once.
func TestFetchProfile(t *testing.T) {
	var mu sync.Mutex
	answers := []int{http.StatusServiceUnavailable, http.StatusOK, http.StatusOK}
	bodies := []string{"busy", `{"client": 1}`, `{"client": "shop-1", "site": {"timezone": "UTC", "business_hours": {"mon": ["08:00-18:00"]}}}`}
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Path != "/v1/agent/clients/shop-1/profile" || r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		i := min(calls, len(answers)-1)
		calls++
		w.WriteHeader(answers[i])
		io.WriteString(w, bodies[i])
	}))
	defer srv.Close()
	var waits []time.Duration
	after := func(d time.Duration) <-chan time.Time {
		waits = append(waits, d)
		ch := make(chan time.Time, 1)
		ch <- time.Time{}
		return ch
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	creds := agentlink.Credentials{Server: srv.URL, Client: "shop-1", Token: "tok"}
	p, err := fetchProfile(context.Background(), srv.Client(), creds, log, after)
	if err != nil || p.Client != "shop-1" {
		t.Fatalf("fetchProfile: %v, %v", p, err)
	}
	if calls != 3 || len(waits) != 2 || waits[0] >= agentlink.BackoffBase || waits[1] >= 2*agentlink.BackoffBase {
		t.Errorf("%d calls, waits %v: want 3 calls and 2 backoffs under 1s and 2s", calls, waits)
	}

	waits = nil
	creds.Token = "wrong"
	if _, err := fetchProfile(context.Background(), srv.Client(), creds, log, after); err == nil || !strings.Contains(err.Error(), "refuses the token") || len(waits) != 0 {
		t.Errorf("with a refused token: %v after %d waits", err, len(waits))
	}
}
