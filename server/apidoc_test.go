package server_test

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours/server"
	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"
)

var updateAPIDoc = flag.Bool("update-api", false, "rewrite the API section of the README from a real session")

// apiSession is a scripted session with a real server that writes, for
// each endpoint, the request and the answer as the README shows them:
// tokens, codes and ids that are random are replaced by names, so that
// the text is the same on every run.
type apiSession struct {
	t      *testing.T
	srv    *httptest.Server
	clk    *clock.Mock
	out    bytes.Buffer
	secret map[string]string // random value -> its name in the text
	seen   map[string]bool   // "METHOD /pattern" documented
}

const (
	docAdmin   = "admin-token-0123456789abcdef"
	docOperate = "operate-token-0123456789abcdef"
	docView    = "view-token-0123456789abcdef"
)

func newAPISession(t *testing.T) *apiSession {
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	h, err := server.New(server.NewMemStore(), server.WithClock(clk),
		server.WithAdminToken(docAdmin, server.RoleAdmin), server.WithAdminToken(docOperate, server.RoleOperate),
		server.WithAdminToken(docView, server.RoleView))
	require.NoError(t, err)
	t.Cleanup(func() { h.Close() })
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	s := &apiSession{t: t, srv: srv, clk: clk, seen: map[string]bool{},
		secret: map[string]string{docAdmin: "$ADMIN_TOKEN", docOperate: "$OPERATE_TOKEN", docView: "$VIEW_TOKEN"}}
	return s
}

// hide makes value appear as name in the text.
func (s *apiSession) hide(value, name string) { s.secret[value] = name }

func (s *apiSession) scrub(text string) string {
	keys := make([]string, 0, len(s.secret))
	for k := range s.secret {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return len(keys[i]) > len(keys[j]) })
	for _, k := range keys {
		text = strings.ReplaceAll(text, k, s.secret[k])
	}
	return text
}

// heading starts a group of endpoints.
func (s *apiSession) heading(title, text string) {
	fmt.Fprintf(&s.out, "### %s\n\n%s\n\n", title, text)
}

// call makes a request, writes it and its answer, and returns the answer.
// pattern names the endpoint as the server routes it; what says what it
// does.
func (s *apiSession) call(pattern, what, method, path, token, body string, header ...string) (int, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.srv.URL+path, strings.NewReader(body))
	require.NoError(s.t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := s.srv.Client().Do(req)
	require.NoError(s.t, err)
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(s.t, err)
	s.seen[method+" "+pattern] = true

	fmt.Fprintf(&s.out, "**%s %s**: %s\n\n```http\n%s %s\n", method, pattern, what, method, path)
	if token != "" {
		fmt.Fprintf(&s.out, "Authorization: Bearer %s\n", token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		fmt.Fprintf(&s.out, "%s: %s\n", header[i], header[i+1])
	}
	if body != "" {
		fmt.Fprintf(&s.out, "\n%s\n", prettyJSON(body))
	}
	fmt.Fprintf(&s.out, "```\n\n```http\nHTTP/1.1 %d %s\n", resp.StatusCode, http.StatusText(resp.StatusCode))
	for _, h := range []string{"ETag", "Content-Type"} {
		if v := resp.Header.Get(h); v != "" && (h != "Content-Type" || !strings.HasPrefix(v, "application/json")) {
			fmt.Fprintf(&s.out, "%s: %s\n", h, v)
		}
	}
	if len(bytes.TrimSpace(data)) > 0 {
		fmt.Fprintf(&s.out, "\n%s\n", shorten(prettyJSON(string(data))))
	}
	s.out.WriteString("```\n\n")
	return resp.StatusCode, data
}

// shorten keeps a long answer readable: its first 16 lines.
func shorten(text string) string {
	lines := strings.Split(text, "\n")
	if len(lines) <= 16 {
		return text
	}
	return strings.Join(lines[:16], "\n") + "\n…"
}

var apiSection = regexp.MustCompile(`(?s)<!-- api:begin -->\n.*?<!-- api:end -->`)

// TestAPIDoc runs a session that calls every endpoint of the server and
// checks that the README's API section is its transcript (go test
// ./server -run TestAPIDoc -update-api rewrites it), and that no route is
// left out.
func TestAPIDoc(t *testing.T) {
	s := newAPISession(t)
	apiScript(s)
	text := "<!-- api:begin -->\n" + s.scrub(s.out.String()) + "<!-- api:end -->"

	readme := filepath.Join("..", "README.md")
	data, err := os.ReadFile(readme)
	require.NoError(t, err)
	require.True(t, apiSection.Match(data), "README.md lacks the <!-- api:begin --> ... <!-- api:end --> section")
	if *updateAPIDoc {
		data = apiSection.ReplaceAll(data, []byte(strings.ReplaceAll(text, "$", "$$")))
		require.NoError(t, os.WriteFile(readme, data, 0o644))
	}
	got := apiSection.Find(data)
	if string(got) != text {
		t.Errorf("the README's API section is not the session's transcript: go test ./server -run TestAPIDoc -update-api")
	}

	// Every route of the server is in the transcript.
	src, err := os.ReadFile("http.go")
	require.NoError(t, err)
	routes := regexp.MustCompile(`HandleFunc\("([A-Z]+) (/v1/[^"]*)"`).FindAllSubmatch(src, -1)
	files, _ := filepath.Glob("http_*.go")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		more, err := os.ReadFile(f)
		require.NoError(t, err)
		routes = append(routes, regexp.MustCompile(`HandleFunc\("([A-Z]+) (/v1/[^"]*)"`).FindAllSubmatch(more, -1)...)
	}
	require.NotEmpty(t, routes)
	for _, r := range routes {
		key := string(r[1]) + " " + string(r[2])
		if !s.seen[key] {
			t.Errorf("%s is not in the API section: add it to apiScript", key)
		}
	}
}
