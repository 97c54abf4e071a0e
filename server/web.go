package server

import (
	"embed"
	"net/http"
	"path"
	"strings"
)

// webFS holds the web page: index.html, app.js and style.css.
//
//go:embed web/index.html web/app.js web/style.css
var webFS embed.FS

// pageCSP is the page's Content-Security-Policy: everything from the
// server itself, no inline script or style, images also from data: and
// blob: URLs; no framing, no form posts elsewhere.
const pageCSP = "default-src 'self'; img-src 'self' data: blob:; script-src 'self'; style-src 'self'; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// pageHeaders sets the headers of every file of the page.
func pageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	// The files change with the binary: revalidate each time.
	h.Set("Cache-Control", "no-cache")
}

// page serves the web page at exactly "/". It needs no token: the page
// holds no data, it asks the user for a token and sends it with each of
// its requests to the API.
func (h *Handler) page(w http.ResponseWriter, r *http.Request) {
	serveWebFile(w, "index.html")
}

// webTypes are the Content-Types of the page's files.
var webTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
}

// webFiles serves the page's files under /web/; an unknown one is a JSON 404.
func (h *Handler) webFiles() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serveWebFile(w, strings.TrimPrefix(r.URL.Path, "/web/"))
	})
}

// serveWebFile writes the page's file of the given name (such as
// "app.js"), or a JSON 404.
func serveWebFile(w http.ResponseWriter, name string) {
	ctype, known := webTypes[path.Ext(name)]
	data, err := webFS.ReadFile("web/" + name)
	if err != nil || !known || strings.Contains(name, "/") {
		writeError(w, http.StatusNotFound, "no such file: /web/"+name, nil)
		return
	}
	pageHeaders(w)
	w.Header().Set("Content-Type", ctype)
	w.Write(data)
}
