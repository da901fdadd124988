package web_test

import (
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/trackskills/trackskills/testkit"
	"github.com/trackskills/trackskills/web"
)

func mustHandler(t *testing.T) *web.Handler {
	t.Helper()
	h, err := web.NewHandler()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHandler(t *testing.T) {
	h := mustHandler(t)
	tests := []struct {
		name, method, target string
		header               []string
		status               int
		contentType, cache   string
		gzip                 bool
	}{
		{name: "Index", method: "GET", target: "/", status: 200, contentType: "text/html; charset=utf-8", cache: "no-cache"},
		{name: "IndexGzip", method: "GET", target: "/", header: []string{"Accept-Encoding", "br, gzip"}, status: 200, contentType: "text/html; charset=utf-8", cache: "no-cache", gzip: true},
		{name: "GzipRefused", method: "GET", target: "/", header: []string{"Accept-Encoding", "gzip;q=0"}, status: 200, contentType: "text/html; charset=utf-8", cache: "no-cache"},
		{name: "App", method: "GET", target: "/static/app.js", header: []string{"Accept-Encoding", "gzip"}, status: 200, contentType: "text/javascript; charset=utf-8", cache: "no-cache", gzip: true},
		{name: "Style", method: "GET", target: "/static/style.css", status: 200, contentType: "text/css; charset=utf-8", cache: "no-cache"},
		{name: "ChartJS", method: "GET", target: "/static/vendor/chart.umd.js", header: []string{"Accept-Encoding", "gzip"}, status: 200, contentType: "text/javascript; charset=utf-8", cache: "public, max-age=86400", gzip: true},
		{name: "Head", method: "HEAD", target: "/static/app.js", status: 200, contentType: "text/javascript; charset=utf-8", cache: "no-cache"},
		{name: "Missing", method: "GET", target: "/static/nope.js", status: 404},
		{name: "IndexByName", method: "GET", target: "/static/index.html", status: 404},
		{name: "Post", method: "POST", target: "/", status: 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := testkit.Serve(h, tt.method, tt.target, tt.header...)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d", rec.Code, tt.status)
			}
			if tt.status != 200 {
				return
			}
			hdr := rec.Header()
			if got := hdr.Get("Content-Type"); got != tt.contentType {
				t.Errorf("Content-Type %q, want %q", got, tt.contentType)
			}
			if got := hdr.Get("Cache-Control"); got != tt.cache {
				t.Errorf("Cache-Control %q, want %q", got, tt.cache)
			}
			if got := hdr.Get("Content-Security-Policy"); got != web.CSP || !strings.Contains(got, "script-src 'self';") {
				t.Errorf("CSP %q", got)
			}
			if hdr.Get("ETag") == "" || hdr.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("headers %v: want an ETag and nosniff", hdr)
			}
			if gz := hdr.Get("Content-Encoding") == "gzip"; gz != tt.gzip {
				t.Fatalf("Content-Encoding %q, want gzip=%v", hdr.Get("Content-Encoding"), tt.gzip)
			}
			if tt.method == "HEAD" {
				if rec.Body.Len() != 0 {
					t.Errorf("HEAD has a body of %d bytes", rec.Body.Len())
				}
				return
			}
			body := rec.Body.Bytes()
			if tt.gzip {
				zr, err := gzip.NewReader(rec.Body)
				if err != nil {
					t.Fatal(err)
				}
				if body, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			}
			if len(body) == 0 {
				t.Error("empty body")
			}
		})
	}
}

func TestHandler_NotModified(t *testing.T) {
	h := mustHandler(t)
	etag := testkit.Serve(h, "GET", "/static/app.js").Header().Get("ETag")
	rec := testkit.Serve(h, "GET", "/static/app.js", "If-None-Match", etag)
	if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
		t.Errorf("If-None-Match %s: %d with %d bytes, want 304 and no body", etag, rec.Code, rec.Body.Len())
	}
}

// The whole first load (every file the page can fetch) stays under the
// issue's 300 KB compressed budget.
func TestHandler_FirstLoadSize(t *testing.T) {
	h := mustHandler(t)
	total := 0
	for _, p := range h.Paths() {
		if strings.HasSuffix(p, ".md") {
			continue // the licence is not loaded by the page
		}
		total += testkit.Serve(h, "GET", p, "Accept-Encoding", "gzip").Body.Len()
	}
	t.Logf("first load: %d bytes gzip-compressed", total)
	if total > 300_000 {
		t.Errorf("first load is %d bytes compressed, over the 300 KB budget", total)
	}
}

// The page never loads anything from elsewhere and has no inline script,
// which the CSP would block anyway.
func TestIndex_NoInlineScriptNoThirdParty(t *testing.T) {
	h := mustHandler(t)
	body := testkit.Serve(h, "GET", "/").Body.String()
	for _, bad := range []string{"<script>", "http://", "https://", " style=", " onclick=", " onload=", "<style"} {
		if strings.Contains(body, bad) {
			t.Errorf("index.html contains %q", bad)
		}
	}
}
