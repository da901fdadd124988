// Package web holds the dashboard: plain HTML, CSS and JavaScript modules in
// static/, embedded in the binary and served without a build step. Chart.js
// is vendored in static/vendor (pinned; vendor.sh fetches and checks it).
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
)

//go:embed static
var static embed.FS

// CSP is the Content-Security-Policy of the dashboard and the API: scripts,
// styles and requests from the page's own origin only, no inline script.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

// SetSecurityHeaders adds the CSP and the headers that go with it to h.
func SetSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
}

// asset is one file, ready to serve plain or gzip-compressed.
type asset struct {
	body, gz    []byte
	etag        string
	contentType string
	cache       string
}

// Handler serves the dashboard: index.html at "/" and every file of static/
// at "/static/<path>". Files are compressed once, at start, and served
// gzip-compressed to clients that accept it, with an ETag. The app's own
// files are revalidated on every load (no-cache), so a new binary is seen at
// once; the vendored library is cached for a day.
type Handler struct {
	assets map[string]*asset // by URL path
}

// NewHandler reads and compresses the embedded files.
func NewHandler() (*Handler, error) {
	h := &Handler{assets: map[string]*asset{}}
	err := fs.WalkDir(static, "static", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := static.ReadFile(name)
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		if _, err := zw.Write(body); err != nil {
			return fmt.Errorf("compress %s: %w", name, err)
		}
		if err := zw.Close(); err != nil {
			return fmt.Errorf("compress %s: %w", name, err)
		}
		sum := sha256.Sum256(body)
		a := &asset{
			body:        body,
			etag:        `"` + hex.EncodeToString(sum[:8]) + `"`,
			contentType: contentType(name),
			cache:       "no-cache",
		}
		if gz.Len() < len(body) {
			a.gz = gz.Bytes()
		}
		if strings.HasPrefix(name, "static/vendor/") {
			a.cache = "public, max-age=86400"
		}
		url := "/" + name
		if name == "static/index.html" {
			url = "/"
		}
		h.assets[url] = a
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load dashboard files: %w", err)
	}
	if h.assets["/"] == nil {
		return nil, fmt.Errorf("load dashboard files: static/index.html is missing")
	}
	return h, nil
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".md":
		return "text/plain; charset=utf-8"
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// ServeHTTP answers GET and HEAD of the dashboard's files; anything else
// is a 404 (or a 405 for other methods).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a := h.assets[r.URL.Path]
	if a == nil || r.URL.Path == "/static/index.html" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	hdr := w.Header()
	SetSecurityHeaders(hdr)
	hdr.Set("Content-Type", a.contentType)
	hdr.Set("Cache-Control", a.cache)
	hdr.Set("ETag", a.etag)
	hdr.Set("Vary", "Accept-Encoding")
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := a.body
	if a.gz != nil && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		body = a.gz
		hdr.Set("Content-Encoding", "gzip")
	}
	hdr.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
}

// acceptsGzip reports whether an Accept-Encoding value allows gzip
// (named, or "*", with a q-value above zero).
func acceptsGzip(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		name = strings.TrimSpace(name)
		if !strings.EqualFold(name, "gzip") && name != "*" {
			continue
		}
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				q = f
			}
		}
		return q > 0
	}
	return false
}

// Paths lists the URL paths the handler serves, for tests and size reports.
func (h *Handler) Paths() []string {
	out := make([]string, 0, len(h.assets))
	for p := range h.assets {
		out = append(out, p)
	}
	return out
}
