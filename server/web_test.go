package server

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The page and its files are served without a token, with a strict
// Content-Security-Policy, nosniff and no-cache; unknown files and
// unknown API paths are JSON 404s.
func TestWebPageHeaders(t *testing.T) {
	srv := testServer(t)
	for _, tc := range []struct{ path, ctype, contains string }{
		{"/", "text/html; charset=utf-8", `<script src="/web/app.js" defer></script>`},
		{"/web/index.html", "text/html; charset=utf-8", `<form id="login"`},
		{"/web/app.js", "text/javascript; charset=utf-8", "sessionStorage"},
		{"/web/style.css", "text/css; charset=utf-8", "font"},
	} {
		r := call(t, srv, "GET", tc.path, "", nil)
		require.Equal(t, http.StatusOK, r.status, tc.path)
		require.Equal(t, tc.ctype, r.header.Get("Content-Type"), tc.path)
		require.Contains(t, string(r.body), tc.contains, tc.path)
		csp := r.header.Get("Content-Security-Policy")
		require.Equal(t, pageCSP, csp, tc.path)
		require.Contains(t, csp, "default-src 'self'")
		require.Contains(t, csp, "img-src 'self' data: blob:")
		require.Contains(t, csp, "script-src 'self';")
		require.NotContains(t, csp, "unsafe-inline")
		require.NotContains(t, csp, "unsafe-eval")
		require.Equal(t, "nosniff", r.header.Get("X-Content-Type-Options"), tc.path)
		require.Equal(t, "no-cache", r.header.Get("Cache-Control"), tc.path)
		require.Empty(t, r.header.Get("Set-Cookie"), tc.path)
	}
	for _, path := range []string{"/web/", "/web/nope.js", "/web/../http.go", "/index.html", "/v1/nope"} {
		r := call(t, srv, "GET", path, "", nil)
		require.Equal(t, http.StatusNotFound, r.status, path)
		require.Equal(t, "application/json", r.header.Get("Content-Type"), path)
		require.NotEmpty(t, r.errorBody(t).Error, path)
	}
	r := call(t, srv, "POST", "/", "", strings.NewReader("x"))
	require.Equal(t, http.StatusNotFound, r.status)
	require.Equal(t, "application/json", r.header.Get("Content-Type"))
}

// The page has no inline script, event handler or style: the CSP would
// block them.
func TestWebPageHasNoInlineCode(t *testing.T) {
	html, err := webFS.ReadFile("web/index.html")
	require.NoError(t, err)
	for _, m := range regexp.MustCompile(`<script[^>]*>`).FindAllString(string(html), -1) {
		require.Contains(t, m, `src="/web/`, "inline script: %s", m)
	}
	require.NotRegexp(t, `(?i)\son[a-z]+\s*=`, string(html), "inline event handler")
	require.NotRegexp(t, `(?i)\sstyle\s*=|<style`, string(html), "inline style")
	js, err := webFS.ReadFile("web/app.js")
	require.NoError(t, err)
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
		require.NotContains(t, string(js), bad)
	}
	require.NotRegexp(t, `https?://(?:[^w]|w[^w]|ww[^w])`, strings.ReplaceAll(string(js), "http://www.w3.org/2000/svg", ""), "no remote URL (CDN)")
}
