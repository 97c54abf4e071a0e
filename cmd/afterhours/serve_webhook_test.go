package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeWebhook: with -webhook and -webhook-token-file, a notice an
// agent posts reaches the URL as JSON with the bearer token.
func TestServeWebhook(t *testing.T) {
	got := make(chan *http.Request, 10)
	bodies := make(chan map[string]any, 10)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		var m map[string]any
		_ = json.Unmarshal(data, &m)
		got <- r
		bodies <- m
	}))
	t.Cleanup(hook.Close)
	tmp := t.TempDir()
	tokenFile := filepath.Join(tmp, "hook.token")
	writeTokens(t, tokenFile, "hook-secret\n", 0o600)
	dir := filepath.Join(tmp, "data")
	s := startServe(t, "-data", dir, "-webhook", hook.URL+"/afterhours", "-webhook-token-file", tokenFile)
	base := "http://" + s.addr
	c := &http.Client{}
	request(t, c, "GET", base+"/v1/config", "", "").want(t, http.StatusUnauthorized)
	admin := generatedToken(t, dir)
	enrolled := enrolShop(t, c, base, admin)
	request(t, c, "POST", base+"/v1/agent/clients/shop-1/notices", enrolled.Token,
		`{"id": "n1", "kind": "failures", "day": "2026-11-23", "failed": [{"task": "rotate-logs", "kind": "housekeeping", "exit_code": 1}]}`).want(t, http.StatusOK)
	select {
	case req := <-got:
		m := <-bodies
		if req.URL.Path != "/afterhours" || req.Header.Get("Authorization") != "Bearer hook-secret" {
			t.Errorf("POST %s with Authorization %q", req.URL.Path, req.Header.Get("Authorization"))
		}
		if m["id"] != "n1" || m["client"] != "shop-1" || m["site"] != "leeds" || !strings.Contains(m["summary"].(string), "rotate-logs") {
			t.Errorf("webhook body: %v", m)
		}
	case <-time.After(time.Minute):
		t.Fatal("the webhook got nothing within a minute")
	}
	r := request(t, c, "GET", base+"/v1/notices", admin, "").want(t, http.StatusOK)
	if !bytes.Contains(r.body, []byte(`"id":"n1"`)) {
		t.Errorf("GET /v1/notices: %s", r.body)
	}
	if code := s.stop(); code != exitOK {
		t.Fatalf("serve exited %d:\n%s", code, s.stderr)
	}
}

func TestServeWebhookRefuses(t *testing.T) {
	tmp := t.TempDir()
	good := filepath.Join(tmp, "good")
	if err := os.Mkdir(good, 0o700); err != nil {
		t.Fatal(err)
	}
	readable := filepath.Join(tmp, "readable.token")
	writeTokens(t, readable, "hook-secret\n", 0o644)
	empty := filepath.Join(tmp, "empty.token")
	writeTokens(t, empty, "\n", 0o600)
	cases := []struct {
		name string
		args []string
		code int
		errs string
	}{
		{"a token without a webhook", []string{"-data", good, "-webhook-token-file", empty}, exitUsage, "-webhook-token-file needs -webhook"},
		{"not an http URL", []string{"-data", good, "-webhook", "ftp://example.com/x"}, exitFailed, "want an http or https URL"},
		{"a token readable by others", []string{"-data", good, "-webhook", "https://example.com/x", "-webhook-token-file", readable}, exitFailed, "group or others may read it (mode 0644)"},
		{"an empty token", []string{"-data", good, "-webhook", "https://example.com/x", "-webhook-token-file", empty}, exitFailed, "is empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			code := serve(ctx, c.args, &out, &errOut, nil)
			if code != c.code || !strings.Contains(errOut.String(), c.errs) {
				t.Errorf("exit %d, want %d; stderr lacks %q:\n%s", code, c.code, c.errs, errOut.String())
			}
		})
	}
}
