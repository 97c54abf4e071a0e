package server

import (
	"embed"
	"io/fs"
	"net/http"
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
	data, err := webFS.ReadFile("web/index.html")
	if err != nil {
		fail(w, err)
		return
	}
	pageHeaders(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(data)
}

// webFiles serves the page's files under /web/; an unknown one is a JSON 404.
func (h *Handler) webFiles() http.Handler {
	sub, err := fs.Sub(webFS, "web")
	if err != nil {
		panic(err) // the embedded tree always has web/
	}
	files := http.StripPrefix("/web/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Path[len("/web/"):]
		f, err := sub.Open(name)
		if err != nil || name == "" {
			writeError(w, http.StatusNotFound, "no such file: "+r.URL.Path, nil)
			return
		}
		f.Close()
		pageHeaders(w)
		files.ServeHTTP(w, r)
	})
}
