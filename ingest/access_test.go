package ingest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/trackskills/trackskills/httpapi"
)

// postOver sends an event to path of the real HTTP server at url with the
// header pairs, and returns the status and the error of the body.
func postOver(tb testing.TB, url, path string, header ...string) (int, string) {
	tb.Helper()
	body := okEvent("access")
	if path == "/api/track/batch" {
		body = "[" + body + "]"
	}
	r, err := http.NewRequest(http.MethodPost, url+path, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	r.Header.Set("Content-Type", "text/plain") // what a page sends without a preflight
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			r.Host = header[i+1]
			continue
		}
		r.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var out trackResp
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		tb.Fatalf("decode the %d answer: %v", resp.StatusCode, err)
	}
	return resp.StatusCode, out.Error
}

// Ensure that without ingest keys a web page of another origin cannot
// post events (a text/plain POST needs no preflight), while the same
// origin and clients that are no browser can; with keys, the key decides.
func TestServer_CrossOrigin(t *testing.T) {
	t.Parallel()
	open, openJS := MustServer(t, testConfig())
	openURL := httptest.NewServer(open.Handler())
	t.Cleanup(openURL.Close)
	kcfg := testConfig()
	kcfg.Keys = []string{"cross-origin-key"}
	keyed, _ := MustServer(t, kcfg)
	keyedURL := httptest.NewServer(keyed.Handler())
	t.Cleanup(keyedURL.Close)

	const attacker = "https://attacker.example"
	tests := []struct {
		name   string
		url    string
		path   string
		header []string
		want   int
	}{
		{"Curl", openURL.URL, "/api/track", nil, http.StatusOK},
		{"SameOriginPage", openURL.URL, "/api/track", []string{"Sec-Fetch-Site", "same-origin", "Origin", openURL.URL}, http.StatusOK},
		{"ErrCrossSitePage", openURL.URL, "/api/track", []string{"Sec-Fetch-Site", "cross-site", "Origin", attacker}, http.StatusForbidden},
		{"ErrCrossSiteBatch", openURL.URL, "/api/track/batch", []string{"Sec-Fetch-Site", "cross-site", "Origin", attacker}, http.StatusForbidden},
		{"ErrCrossSiteHook", openURL.URL, "/api/hooks/claude-code", []string{"Sec-Fetch-Site", "cross-site", "Origin", attacker}, http.StatusForbidden},
		{"ErrOldBrowserOtherOrigin", openURL.URL, "/api/track", []string{"Origin", attacker}, http.StatusForbidden},
		{"ErrLocalPageOtherPort", openURL.URL, "/api/track", []string{"Sec-Fetch-Site", "same-site", "Origin", "http://127.0.0.1:3000"}, http.StatusForbidden},
		{"KeyedCrossSiteWithoutKey", keyedURL.URL, "/api/track", []string{"Sec-Fetch-Site", "cross-site", "Origin", attacker}, http.StatusUnauthorized},
		{"KeyedCrossSiteWithKey", keyedURL.URL, "/api/track", []string{"Sec-Fetch-Site", "cross-site", "Origin", attacker, "Authorization", "Bearer cross-origin-key"}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := streamMsgs(t, openJS)
			got, msg := postOver(t, tt.url, tt.path, tt.header...)
			if got != tt.want {
				t.Fatalf("status=%d, want %d (%s)", got, tt.want, msg)
			}
			if tt.want == http.StatusForbidden {
				if !strings.Contains(msg, "--ingest-keys") {
					t.Errorf("403 error %q does not say which flag to set", msg)
				}
				if n := streamMsgs(t, openJS); n != before {
					t.Errorf("a refused post reached the stream: %d messages, want %d", n, before)
				}
			}
		})
	}
}

// Ensure ingest alone answers only the configured Host names, and any
// Host when none are configured.
func TestServer_Hosts(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.Hosts = httpapi.HostAuth{Names: append([]string{"ingest.example.com"}, httpapi.LoopbackNames...), Hint: "set --public-host"}
	srv, _ := MustServer(t, cfg)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	tests := []struct {
		name, host string
		want       int
	}{
		{"Loopback", "127.0.0.1:8080", http.StatusOK},
		{"Localhost", "localhost:8080", http.StatusOK},
		{"PublicHost", "ingest.example.com", http.StatusOK},
		{"ErrRebound", "attacker.example:8080", http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, msg := postOver(t, hs.URL, "/api/track", "Host", tt.host)
			if got != tt.want {
				t.Fatalf("Host %s: status=%d, want %d (%s)", tt.host, got, tt.want, msg)
			}
			if got == http.StatusForbidden && !strings.Contains(msg, "--public-host") {
				t.Errorf("403 error %q does not say which flag to set", msg)
			}
		})
	}
	t.Run("ReadyzIsChecked", func(t *testing.T) {
		r, _ := http.NewRequest(http.MethodGet, hs.URL+"/readyz", nil)
		r.Host = "attacker.example"
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("GET /readyz with a foreign Host: status=%d, want 403", resp.StatusCode)
		}
	})
}

// Ensure a key's rate limit holds across the addresses that send it, and
// that other keys are not limited by it.
func TestServer_KeyRateLimit(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.Keys = []string{"shared-key", "other-key"}
	cfg.KeyRateLimit = 2
	srv, js := MustServer(t, cfg)
	h := srv.Handler()
	ok, limited := 0, 0
	for i := range 12 {
		r := newPost("/api/track", okEvent("key-limited"))
		r.RemoteAddr = fmt.Sprintf("198.51.100.%d:1000", i+1)
		r.Header.Set("Authorization", "Bearer shared-key")
		switch w := serve(h, r); w.Code {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			limited++
			if w.Header().Get("Retry-After") == "" {
				t.Errorf("429 without Retry-After")
			}
		default:
			t.Fatalf("status=%d, want 200 or 429; body %s", w.Code, w.Body)
		}
	}
	t.Logf("12 posts with one key from 12 addresses: %d accepted, %d limited", ok, limited)
	if ok == 0 || limited == 0 {
		t.Fatalf("accepted %d and limited %d, want some of each", ok, limited)
	}
	if got := len(readStream(t, js)); got != ok {
		t.Errorf("stream has %d events, want the %d accepted", got, ok)
	}
	r := newPost("/api/track", okEvent("key-limited"))
	r.RemoteAddr = "198.51.100.1:1000"
	r.Header.Set("X-Api-Key", "other-key")
	if w := serve(h, r); w.Code != http.StatusOK {
		t.Errorf("another key: status=%d, want 200; body %s", w.Code, w.Body)
	}
}

// Ensure replaced keys take effect at the next request, and that an empty
// list never turns the key check off.
func TestServer_ReplaceKeys(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.Keys = []string{"first-key"}
	srv, _ := MustServer(t, cfg)
	h := srv.Handler()
	status := func(key string) int {
		r := newPost("/api/track", okEvent("rotated"))
		r.Header.Set("Authorization", "Bearer "+key)
		return serve(h, r).Code
	}
	if got := status("first-key"); got != http.StatusOK {
		t.Fatalf("first key: status=%d, want 200", got)
	}
	if err := srv.ReplaceKeys([]string{"second-key"}); err != nil {
		t.Fatal(err)
	}
	if got := status("second-key"); got != http.StatusOK {
		t.Errorf("new key: status=%d, want 200", got)
	}
	if got := status("first-key"); got != http.StatusUnauthorized {
		t.Errorf("old key: status=%d, want 401", got)
	}
	if err := srv.ReplaceKeys(nil); err == nil {
		t.Errorf("ReplaceKeys(nil) succeeded, want an error")
	}
	if got := status("nothing"); got != http.StatusUnauthorized {
		t.Errorf("after an empty replace, a wrong key: status=%d, want 401", got)
	}
}
