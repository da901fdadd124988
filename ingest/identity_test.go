package ingest_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/ingest"
	"github.com/trackskills/trackskills/testkit"
)

// client is who sends an event and how.
type client struct {
	userID    string
	sessionID string
	remote    string            // RemoteAddr; "" keeps httptest's 192.0.2.1:1234
	ua        string            // User-Agent
	header    map[string]string // extra headers, such as X-Forwarded-For
}

// trackAs POSTs one event as c and returns it as stored in the stream.
func trackAs(tb testing.TB, h http.Handler, js jetstream.JetStream, c client) trackskills.Event {
	tb.Helper()
	body := `{"tool_name":"who","status":"success"`
	if c.userID != "" {
		body += `,"user_id":"` + c.userID + `"`
	}
	if c.sessionID != "" {
		body += `,"session_id":"` + c.sessionID + `"`
	}
	r := newPost("/api/track", body+"}")
	if c.remote != "" {
		r.RemoteAddr = c.remote
	}
	r.Header.Set("User-Agent", c.ua)
	for k, v := range c.header {
		r.Header.Set(k, v)
	}
	w := serve(h, r)
	if w.Code != http.StatusOK {
		tb.Fatalf("status=%d, want 200; body %s", w.Code, w.Body)
	}
	var resp trackResp
	decode(tb, w, &resp)
	ev, _ := findEvent(tb, js, resp.EventID)
	return ev
}

// Ensure the user hash is stable for one identity and differs between
// identities: user_id when sent, else the client IP and User-Agent.
func TestServer_Identity(t *testing.T) {
	t.Parallel()
	logs := &testkit.LockedBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, js := mustServerLogger(t, testConfig(), logger)
	h := srv.Handler()
	hasher := ingest.NewHasher(testKey)

	alice := client{userID: "alice@example.com", remote: "203.0.113.10:4000", ua: "Agent/1"}
	tests := []struct {
		name     string
		a, b     client
		same     bool
		wantHash string // expected hash of a
	}{
		{
			name: "SameUserIDElsewhere", same: true, a: alice,
			b:        client{userID: "alice@example.com", remote: "198.51.100.20:1", ua: "Other/2"},
			wantHash: hasher.UserHash("alice@example.com", "", ""),
		},
		{
			name: "DifferentUserIDs", a: alice,
			b:        client{userID: "bob@example.com", remote: "203.0.113.10:4000", ua: "Agent/1"},
			wantHash: hasher.UserHash("alice@example.com", "", ""),
		},
		{
			name: "SameIPAndUA", same: true,
			a:        client{remote: "203.0.113.10:4000", ua: "Agent/1"},
			b:        client{remote: "203.0.113.10:5999", ua: "Agent/1"},
			wantHash: hasher.UserHash("", "203.0.113.10", "Agent/1"),
		},
		{
			name:     "DifferentUA",
			a:        client{remote: "203.0.113.10:4000", ua: "Agent/1"},
			b:        client{remote: "203.0.113.10:4000", ua: "Agent/2"},
			wantHash: hasher.UserHash("", "203.0.113.10", "Agent/1"),
		},
		{
			name:     "DifferentIP",
			a:        client{remote: "203.0.113.10:4000", ua: "Agent/1"},
			b:        client{remote: "203.0.113.11:4000", ua: "Agent/1"},
			wantHash: hasher.UserHash("", "203.0.113.10", "Agent/1"),
		},
		{
			name:     "IPv6Peer",
			a:        client{remote: "[2001:db8::1]:4000", ua: "Agent/1"},
			b:        client{remote: "[2001:db8::2]:4000", ua: "Agent/1"},
			wantHash: hasher.UserHash("", "2001:db8::1", "Agent/1"),
		},
		{
			// A user_id that happens to equal an IP is not that IP's hash.
			name:     "UserIDIsNotIP",
			a:        client{userID: "203.0.113.10", remote: "203.0.113.10:4000"},
			b:        client{remote: "203.0.113.10:4000"},
			wantHash: hasher.UserHash("203.0.113.10", "", ""),
		},
		{
			// Without trusted proxies, forwarding headers are not believed.
			name: "UntrustedForwardingHeaders", same: true,
			a: client{remote: "203.0.113.10:4000", ua: "Agent/1"},
			b: client{remote: "203.0.113.10:4000", ua: "Agent/1", header: map[string]string{
				"X-Forwarded-For": "9.9.9.9", "X-Real-IP": "8.8.8.8", "CF-Connecting-IP": "1.1.1.1",
			}},
			wantHash: hasher.UserHash("", "203.0.113.10", "Agent/1"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := trackAs(t, h, js, tt.a), trackAs(t, h, js, tt.b)
			if a.UserHash != tt.wantHash {
				t.Errorf("user_hash=%s, want %s", a.UserHash, tt.wantHash)
			}
			if len(a.UserHash) != 32 {
				t.Errorf("user_hash %q is not 32 hex characters", a.UserHash)
			}
			if got := a.UserHash == b.UserHash; got != tt.same {
				t.Errorf("same hash=%v (%s, %s), want %v", got, a.UserHash, b.UserHash, tt.same)
			}
		})
	}

	t.Run("Session", func(t *testing.T) {
		a := trackAs(t, h, js, client{userID: "u1", sessionID: "sess-raw-value-1"})
		b := trackAs(t, h, js, client{userID: "u1", sessionID: "sess-raw-value-1"})
		c := trackAs(t, h, js, client{userID: "u1", sessionID: "sess-raw-value-2"})
		d := trackAs(t, h, js, client{userID: "u1"})
		if got, want := a.SessionHash, hasher.SessionHash("sess-raw-value-1"); got == "" || got != want {
			t.Errorf("session_hash=%q, want %q", got, want)
		}
		if a.SessionHash != b.SessionHash || a.SessionHash == c.SessionHash {
			t.Errorf("session hashes %s %s %s: want the same for one session, different for another", a.SessionHash, b.SessionHash, c.SessionHash)
		}
		if d.SessionHash != "" {
			t.Errorf("session_hash=%q without a session_id, want none", d.SessionHash)
		}
		if hasher.SessionHash("x") == hasher.UserHash("x", "", "") {
			t.Errorf("a session and a user with the same id share a hash")
		}
	})

	// Ensure no raw identity reaches the stream or a log line, the Debug
	// ones included.
	t.Run("NothingRawStoredOrLogged", func(t *testing.T) {
		post(h, "/api/track", `{"tool_name":"x","status":"bad","user_id":"alice@example.com"}`)
		secrets := []string{"alice@example.com", "bob@example.com", "sess-raw-value", "203.0.113.10", "198.51.100.20", "2001:db8::", "Agent/1", "Other/2"}
		var raw strings.Builder
		for _, m := range readMsgs(t, js) {
			raw.WriteString(rawMessage(m))
		}
		for _, s := range secrets {
			if strings.Contains(raw.String(), s) {
				t.Errorf("the stream holds the raw identity %q", s)
			}
			if strings.Contains(logs.String(), s) {
				t.Errorf("a log line holds the raw identity %q", s)
			}
		}
		if logs.String() == "" {
			t.Errorf("nothing was logged; the check proves nothing")
		}
	})
}

// Ensure forwarding headers set the client IP only when the TCP peer is a
// trusted proxy.
func TestServer_TrustedProxies(t *testing.T) {
	t.Parallel()
	trusted, err := ingest.ParseCIDRs([]string{"127.0.0.1", "10.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	plain, plainJS := MustServer(t, testConfig())
	cfg := testConfig()
	cfg.TrustedProxies = trusted
	proxied, proxiedJS := MustServer(t, cfg)
	hasher := ingest.NewHasher(testKey)

	const ua = "Agent/1"
	tests := []struct {
		name    string
		trusted bool
		header  map[string]string
		wantIP  string
	}{
		{name: "Untrusted/None", wantIP: "127.0.0.1"},
		{name: "Untrusted/XForwardedFor", header: map[string]string{"X-Forwarded-For": "9.9.9.9"}, wantIP: "127.0.0.1"},
		{name: "Untrusted/XRealIP", header: map[string]string{"X-Real-IP": "8.8.4.4"}, wantIP: "127.0.0.1"},
		{name: "Untrusted/CFConnectingIP", header: map[string]string{"CF-Connecting-IP": "1.1.1.1"}, wantIP: "127.0.0.1"},
		{name: "Trusted/None", trusted: true, wantIP: "127.0.0.1"},
		{name: "Trusted/XForwardedFor", trusted: true, header: map[string]string{"X-Forwarded-For": "9.9.9.9"}, wantIP: "9.9.9.9"},
		{name: "Trusted/XForwardedForChain", trusted: true, header: map[string]string{"X-Forwarded-For": "6.6.6.6, 9.9.9.9, 10.1.2.3"}, wantIP: "9.9.9.9"},
		{name: "Trusted/XRealIP", trusted: true, header: map[string]string{"X-Real-IP": "8.8.4.4"}, wantIP: "8.8.4.4"},
		{name: "Trusted/CFConnectingIP", trusted: true, header: map[string]string{"CF-Connecting-IP": "1.1.1.1"}, wantIP: "1.1.1.1"},
		{name: "Trusted/XFFBeatsCF", trusted: true, header: map[string]string{"CF-Connecting-IP": "1.1.1.1", "X-Forwarded-For": "9.9.9.9"}, wantIP: "9.9.9.9"},
		{name: "Trusted/CFWithoutXFF", trusted: true, header: map[string]string{"CF-Connecting-IP": "1.1.1.1"}, wantIP: "1.1.1.1"},
		{name: "Trusted/BadXRealIPFallsBack", trusted: true, header: map[string]string{"X-Real-IP": "nope", "X-Forwarded-For": "9.9.9.9"}, wantIP: "9.9.9.9"},
	}
	for _, tt := range tests {
		for _, transport := range []string{"Recorder", "TCP"} {
			t.Run(tt.name+"/"+transport, func(t *testing.T) {
				srv, js := plain, plainJS
				if tt.trusted {
					srv, js = proxied, proxiedJS
				}
				var ev trackskills.Event
				if transport == "Recorder" {
					ev = trackAs(t, srv.Handler(), js, client{remote: "127.0.0.1:4567", ua: ua, header: tt.header})
				} else {
					ev = trackOverTCP(t, srv.Handler(), js, ua, tt.header)
				}
				if got, want := ev.UserHash, hasher.UserHash("", tt.wantIP, ua); got != want {
					t.Errorf("user_hash=%s, want the hash of %s (%s)", got, tt.wantIP, want)
				}
			})
		}
	}
}

// trackOverTCP POSTs one event through a real listener, so that the TCP
// peer is 127.0.0.1, and returns the stored event.
func trackOverTCP(tb testing.TB, h http.Handler, js jetstream.JetStream, ua string, header map[string]string) trackskills.Event {
	tb.Helper()
	ts := httptest.NewServer(h)
	defer ts.Close()
	r, err := http.NewRequest(http.MethodPost, ts.URL+"/api/track", strings.NewReader(okEvent("tcp")))
	if err != nil {
		tb.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("User-Agent", ua)
	for k, v := range header {
		r.Header.Set(k, v)
	}
	resp, err := ts.Client().Do(r)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var body trackResp
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		tb.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("status=%d, want 200; body %s", resp.StatusCode, buf.String())
	}
	w := httptest.NewRecorder()
	w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
	w.Body = &buf
	decode(tb, w, &body)
	ev, _ := findEvent(tb, js, body.EventID)
	return ev
}

func TestIPExtractor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		trusted []string
		remote  string
		header  map[string]string
		want    string
	}{
		{name: "NoTrustPeer", remote: "203.0.113.5:1234", want: "203.0.113.5"},
		{name: "NoTrustIgnoresXFF", remote: "127.0.0.1:1234", header: map[string]string{"X-Forwarded-For": "9.9.9.9"}, want: "127.0.0.1"},
		{name: "NoTrustIgnoresXRealIP", remote: "10.0.0.1:1234", header: map[string]string{"X-Real-IP": "9.9.9.9"}, want: "10.0.0.1"},
		{name: "NoTrustIgnoresCF", remote: "192.168.1.1:1234", header: map[string]string{"CF-Connecting-IP": "9.9.9.9"}, want: "192.168.1.1"},
		{name: "UntrustedPeerIgnored", trusted: []string{"127.0.0.1"}, remote: "203.0.113.5:1234", header: map[string]string{"X-Forwarded-For": "9.9.9.9"}, want: "203.0.113.5"},
		{name: "UntrustedPeerXRealIP", trusted: []string{"127.0.0.1"}, remote: "203.0.113.5:1234", header: map[string]string{"X-Real-IP": "9.9.9.9"}, want: "203.0.113.5"},
		{name: "UntrustedPeerCF", trusted: []string{"127.0.0.1"}, remote: "203.0.113.5:1234", header: map[string]string{"CF-Connecting-IP": "9.9.9.9"}, want: "203.0.113.5"},
		// Loopback and private networks are trusted only when listed.
		{name: "LoopbackNotImplied", trusted: []string{"10.0.0.0/8"}, remote: "127.0.0.1:1234", header: map[string]string{"X-Forwarded-For": "9.9.9.9"}, want: "127.0.0.1"},
		{name: "TrustedNoHeaders", trusted: []string{"127.0.0.1"}, remote: "127.0.0.1:1234", want: "127.0.0.1"},
		{name: "TrustedXFF", trusted: []string{"127.0.0.1"}, remote: "127.0.0.1:1234", header: map[string]string{"X-Forwarded-For": "9.9.9.9"}, want: "9.9.9.9"},
		{name: "TrustedXFFRightMostUntrusted", trusted: []string{"10.0.0.0/8"}, remote: "10.0.0.1:1234", header: map[string]string{"X-Forwarded-For": "6.6.6.6, 9.9.9.9, 10.0.0.2"}, want: "9.9.9.9"},
		{name: "TrustedXFFAllTrusted", trusted: []string{"10.0.0.0/8"}, remote: "10.0.0.1:1234", header: map[string]string{"X-Forwarded-For": "10.0.0.3, 10.0.0.2"}, want: "10.0.0.3"},
		{name: "TrustedXFFGarbage", trusted: []string{"127.0.0.1"}, remote: "127.0.0.1:1234", header: map[string]string{"X-Forwarded-For": "not-an-ip"}, want: "127.0.0.1"},
		{name: "TrustedXRealIP", trusted: []string{"127.0.0.1"}, remote: "127.0.0.1:1234", header: map[string]string{"X-Real-IP": "8.8.4.4"}, want: "8.8.4.4"},
		// X-Forwarded-For first: proxies append to it, so a client's forged
		// X-Real-IP cannot win past a proxy that does not set that header.
		{name: "TrustedXFFBeatsXRealIP", trusted: []string{"127.0.0.1"}, remote: "127.0.0.1:1234", header: map[string]string{"X-Real-IP": "8.8.4.4", "X-Forwarded-For": "9.9.9.9"}, want: "9.9.9.9"},
		{name: "TrustedXRealIPBeatsCF", trusted: []string{"127.0.0.1"}, remote: "127.0.0.1:1234", header: map[string]string{"CF-Connecting-IP": "1.1.1.1", "X-Real-IP": "8.8.4.4"}, want: "8.8.4.4"},
		{name: "TrustedBadXRealIPFallsBack", trusted: []string{"127.0.0.1"}, remote: "127.0.0.1:1234", header: map[string]string{"X-Real-IP": "bogus", "CF-Connecting-IP": "1.1.1.1"}, want: "1.1.1.1"},
		{name: "TrustedNormalised", trusted: []string{"127.0.0.1"}, remote: "127.0.0.1:1234", header: map[string]string{"X-Real-IP": "2001:DB8::1"}, want: "2001:db8::1"},
		{name: "TrustedIPv6", trusted: []string{"::1"}, remote: "[::1]:1234", header: map[string]string{"X-Forwarded-For": "2001:db8::7"}, want: "2001:db8::7"},
		{name: "IPv6NoTrust", remote: "[2001:db8::1]:1234", header: map[string]string{"X-Forwarded-For": "9.9.9.9"}, want: "2001:db8::1"},
		{name: "RemoteWithoutPort", remote: "203.0.113.5", want: "203.0.113.5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nets, err := ingest.ParseCIDRs(tt.trusted)
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodPost, "/api/track", nil)
			r.RemoteAddr = tt.remote
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			if got := ingest.IPExtractor(nets)(r); got != tt.want {
				t.Errorf("client IP=%q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseCIDRs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		in       []string
		contains []string
		excludes []string
		wantErr  bool
	}{
		{name: "Empty", in: nil},
		{name: "Blanks", in: []string{"", "  "}},
		{name: "SingleIPv4", in: []string{"127.0.0.1"}, contains: []string{"127.0.0.1"}, excludes: []string{"127.0.0.2"}},
		{name: "SingleIPv6", in: []string{"::1"}, contains: []string{"::1"}, excludes: []string{"::2", "127.0.0.1"}},
		{name: "CIDR", in: []string{" 10.0.0.0/8 "}, contains: []string{"10.255.0.1"}, excludes: []string{"11.0.0.1"}},
		{name: "Mixed", in: []string{"192.168.0.0/16", "fd00::/8"}, contains: []string{"192.168.3.4", "fd12::1"}, excludes: []string{"fe80::1"}},
		{name: "BadIP", in: []string{"localhost"}, wantErr: true},
		{name: "BadCIDR", in: []string{"10.0.0.0/33"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nets, err := ingest.ParseCIDRs(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err=%v, want error %v", err, tt.wantErr)
			}
			in := func(s string) bool {
				for _, n := range nets {
					if n.Contains(net.ParseIP(s)) {
						return true
					}
				}
				return false
			}
			for _, s := range tt.contains {
				if !in(s) {
					t.Errorf("%s not covered by %v", s, nets)
				}
			}
			for _, s := range tt.excludes {
				if in(s) {
					t.Errorf("%s covered by %v", s, nets)
				}
			}
		})
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	t.Parallel()
	t.Run("CreatesThenReads", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data") // made on demand
		k1, err := ingest.LoadOrCreateKey(dir, "")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := len(k1), 32; got != want {
			t.Fatalf("key has %d bytes, want %d", got, want)
		}
		path := filepath.Join(dir, ingest.KeyFile)
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := fi.Mode().Perm(), os.FileMode(0o600); got != want {
			t.Errorf("key file mode=%v, want %v", got, want)
		}
		if got, want := fi.Size(), int64(32); got != want {
			t.Errorf("key file has %d bytes, want %d", got, want)
		}
		k2, err := ingest.LoadOrCreateKey(dir, "")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(k1, k2) {
			t.Errorf("second call returned another key")
		}
		if bytes.Equal(k1, make([]byte, 32)) {
			t.Errorf("key is all zero")
		}
	})

	// Ensure processes that start together all get the one key, never an
	// error or a half-written file (goroutines stand in for processes).
	t.Run("Concurrent", func(t *testing.T) {
		for round := range 25 {
			dir := filepath.Join(t.TempDir(), "data")
			const n = 8
			keys, errs := make([][]byte, n), make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { keys[i], errs[i] = ingest.LoadOrCreateKey(dir, "") })
			}
			wg.Wait()
			for i := range n {
				if errs[i] != nil {
					t.Fatalf("round %d, caller %d: %v", round, i, errs[i])
				}
				if !bytes.Equal(keys[i], keys[0]) {
					t.Fatalf("round %d: callers got different keys", round)
				}
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 || entries[0].Name() != ingest.KeyFile {
				t.Fatalf("round %d: data dir holds %v, want only %s", round, entries, ingest.KeyFile)
			}
		}
	})

	t.Run("DifferentDirsDifferentKeys", func(t *testing.T) {
		k1, err1 := ingest.LoadOrCreateKey(t.TempDir(), "")
		k2, err2 := ingest.LoadOrCreateKey(t.TempDir(), "")
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if bytes.Equal(k1, k2) {
			t.Errorf("two data dirs got the same key")
		}
	})

	t.Run("BadKeyFile", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, ingest.KeyFile), []byte("short"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := ingest.LoadOrCreateKey(dir, ""); err == nil || !strings.Contains(err.Error(), "32") {
			t.Errorf("err=%v, want one naming the 32-byte size", err)
		}
	})

	want := bytes.Repeat([]byte{0xab}, 32)
	tests := []struct {
		name    string
		env     string
		wantErr bool
	}{
		{name: "Hex", env: hex.EncodeToString(want)},
		{name: "HexUpperWithNewline", env: strings.ToUpper(hex.EncodeToString(want)) + "\n"},
		{name: "Base64", env: base64.StdEncoding.EncodeToString(want)},
		{name: "Base64Raw", env: base64.RawStdEncoding.EncodeToString(want)},
		{name: "Base64URL", env: base64.URLEncoding.EncodeToString(want)},
		{name: "ShortHex", env: "abcd", wantErr: true},
		{name: "HexOf16Bytes", env: hex.EncodeToString(want[:16]), wantErr: true},
		{name: "Base64Of31Bytes", env: base64.StdEncoding.EncodeToString(want[:31]), wantErr: true},
		{name: "Passphrase", env: "correct horse battery staple", wantErr: true},
	}
	for _, tt := range tests {
		t.Run("Env/"+tt.name, func(t *testing.T) {
			dir := t.TempDir()
			got, err := ingest.LoadOrCreateKey(dir, tt.env)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("key %q accepted, want an error", tt.env)
				}
				if msg := err.Error(); !strings.Contains(msg, "32 bytes") || !strings.Contains(msg, "hex") {
					t.Errorf("error %q does not say what a key must be", msg)
				}
				if strings.Contains(err.Error(), tt.env) {
					t.Errorf("error %q repeats the secret", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("key=%x, want %x", got, want)
			}
			if _, err := os.Stat(filepath.Join(dir, ingest.KeyFile)); !os.IsNotExist(err) {
				t.Errorf("a key file was written although the env gave the key (stat: %v)", err)
			}
		})
	}
}
