package httpapi_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/trackskills/trackskills/httpapi"
)

// browserServer is a real HTTP server whose every route answers "in"
// behind mw.
func browserServer(tb testing.TB, mw echo.MiddlewareFunc) string {
	tb.Helper()
	e := httpapi.NewEcho(slog.New(slog.DiscardHandler), echo.ExtractIPDirect())
	e.Use(mw)
	e.Any("/x", func(c echo.Context) error { return c.String(http.StatusOK, "in") })
	hs := httptest.NewServer(e)
	tb.Cleanup(hs.Close)
	return hs.URL
}

// do sends method to url over a real connection with the Host header host
// (empty: the URL's) and the header pairs, and returns the status and the
// error of the body.
func do(tb testing.TB, method, url, host string, header ...string) (int, string) {
	tb.Helper()
	r, err := http.NewRequest(method, url, strings.NewReader(`{}`))
	if err != nil {
		tb.Fatal(err)
	}
	if host != "" {
		r.Host = host
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var body httpapi.ErrorBody
	if resp.StatusCode != http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			tb.Fatalf("status %d with a body that is not an error: %v", resp.StatusCode, err)
		}
	}
	return resp.StatusCode, body.Error
}

// Ensure RequireHost takes the loopback names and the configured ones, in
// any case and with any port, refuses every other Host with a 403 that
// names the hint, and is off without names.
func TestRequireHost(t *testing.T) {
	t.Parallel()
	const hint = "add it with --public-host"
	names := append(append([]string{}, httpapi.LoopbackNames...), "Dash.Example.com", "tunnel.example.net:8443")
	on := browserServer(t, httpapi.RequireHost(httpapi.HostAuth{Names: names, Hint: hint}))
	off := browserServer(t, httpapi.RequireHost(httpapi.HostAuth{Hint: hint}))
	tests := []struct {
		name string
		url  string
		host string
		want int
	}{
		{"IPv4Loopback", on, "127.0.0.1:8080", http.StatusOK},
		{"IPv4LoopbackNoPort", on, "127.0.0.1", http.StatusOK},
		{"Localhost", on, "localhost:8080", http.StatusOK},
		{"LocalhostUpperCase", on, "LOCALHOST:1", http.StatusOK},
		{"LocalhostFinalDot", on, "localhost.:8080", http.StatusOK},
		{"IPv6Loopback", on, "[::1]:8080", http.StatusOK},
		{"IPv6LoopbackNoPort", on, "[::1]", http.StatusOK},
		{"PublicHost", on, "dash.example.com", http.StatusOK},
		{"PublicHostOtherPort", on, "DASH.example.com:443", http.StatusOK},
		{"PublicHostGivenWithPort", on, "tunnel.example.net", http.StatusOK},
		{"ErrRebound", on, "attacker.example:8080", http.StatusForbidden},
		{"ErrSubdomainOfPublic", on, "evil.dash.example.com", http.StatusForbidden},
		{"ErrSuffixOfLocalhost", on, "localhost.attacker.example", http.StatusForbidden},
		{"ErrOtherLoopbackIP", on, "127.0.0.2:8080", http.StatusForbidden},
		{"ErrPrivateIP", on, "192.168.1.10:8080", http.StatusForbidden},
		{"OffAnyHost", off, "attacker.example:8080", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, method := range []string{http.MethodGet, http.MethodPost} {
				got, msg := do(t, method, tt.url+"/x", tt.host)
				if got != tt.want {
					t.Fatalf("%s with Host %q: status=%d, want %d (%s)", method, tt.host, got, tt.want, msg)
				}
				if tt.want == http.StatusForbidden && (!strings.Contains(msg, hint) || !strings.Contains(msg, "dash.example.com")) {
					t.Errorf("403 message %q does not name the accepted hosts and the hint %q", msg, hint)
				}
			}
		})
	}

	t.Run("LongHostCut", func(t *testing.T) {
		t.Parallel()
		_, msg := do(t, http.MethodGet, on+"/x", strings.Repeat("a", 5000)+".example")
		if len(msg) > 400 {
			t.Errorf("403 message is %d bytes: it repeats the whole Host", len(msg))
		}
	})
	t.Run("NotFoundIsChecked", func(t *testing.T) {
		t.Parallel()
		if got, _ := do(t, http.MethodGet, on+"/nothing", "attacker.example"); got != http.StatusForbidden {
			t.Errorf("stray path with a foreign Host: status=%d, want 403", got)
		}
	})
}

// Ensure HostName normalizes names and refuses what is no host name.
func TestHostName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		err      bool
	}{
		{in: "Dash.Example.COM", want: "dash.example.com"},
		{in: "dash.example.com:8443", want: "dash.example.com"},
		{in: " dash.example.com. ", want: "dash.example.com"},
		{in: "[::1]:80", want: "::1"},
		{in: "::1", want: "::1"},
		{in: "[2001:db8::1]", want: "2001:db8::1"},
		{in: "https://dash.example.com", err: true},
		{in: "dash.example.com/analytics", err: true},
		{in: "user@dash.example.com", err: true},
		{in: "dash.example.com:http", err: true},
		{in: "", err: true},
		{in: "a b", err: true},
	}
	for _, tt := range tests {
		got, err := httpapi.HostName(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("HostName(%q)=%q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

// Ensure RefuseCrossOrigin refuses what a page of another origin posts,
// by Sec-Fetch-Site or, without it, by Origin, and lets through
// same-origin posts, safe methods and clients that are no browser.
func TestRefuseCrossOrigin(t *testing.T) {
	t.Parallel()
	const msg = "cross-origin test refusal"
	url := browserServer(t, httpapi.RefuseCrossOrigin(msg))
	host := strings.TrimPrefix(url, "http://")
	tests := []struct {
		name   string
		method string
		header []string
		want   int
	}{
		{"NoBrowser", http.MethodPost, nil, http.StatusOK},
		{"SameOrigin", http.MethodPost, []string{"Sec-Fetch-Site", "same-origin", "Origin", url}, http.StatusOK},
		{"UserTyped", http.MethodPost, []string{"Sec-Fetch-Site", "none"}, http.StatusOK},
		{"OldBrowserSameOrigin", http.MethodPost, []string{"Origin", "http://" + host}, http.StatusOK},
		{"ErrCrossSite", http.MethodPost, []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://attacker.example"}, http.StatusForbidden},
		{"ErrSameSiteOtherPort", http.MethodPost, []string{"Sec-Fetch-Site", "same-site", "Origin", "http://127.0.0.1:3000"}, http.StatusForbidden},
		{"ErrOldBrowserCrossOrigin", http.MethodPost, []string{"Origin", "https://attacker.example"}, http.StatusForbidden},
		{"ErrNullOrigin", http.MethodPost, []string{"Origin", "null"}, http.StatusForbidden},
		{"ErrCrossSitePut", http.MethodPut, []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"CrossSiteGet", http.MethodGet, []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://attacker.example"}, http.StatusOK},
		{"CrossSiteOptions", http.MethodOptions, []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://attacker.example"}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, body := do(t, tt.method, url+"/x", "", tt.header...)
			if got != tt.want {
				t.Fatalf("status=%d, want %d (%s)", got, tt.want, body)
			}
			if tt.want == http.StatusForbidden && body != msg {
				t.Errorf("403 error %q, want %q", body, msg)
			}
		})
	}
}
