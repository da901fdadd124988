package testkit_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trackskills/trackskills/testkit"
)

// Ensure FreeAddr gives a loopback address that can be listened on.
func TestFreeAddr(t *testing.T) {
	addr := testkit.MustFreeAddr(t)
	if !strings.HasPrefix(addr, "127.0.0.1:") || strings.HasSuffix(addr, ":0") {
		t.Fatalf("addr=%q, want a loopback address with a port", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	_ = ln.Close() // the test is over
}

// Ensure WaitHTTP returns once the URL answers 200.
func TestWaitHTTP(t *testing.T) {
	var calls atomic.Int32
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer hs.Close()
	testkit.WaitHTTP(t, hs.URL, 5*time.Second)
	if got := calls.Load(); got != 3 {
		t.Fatalf("calls=%d, want 3", got)
	}
}

// Ensure PostJSON sends JSON with the headers and decodes the answer.
func TestPostJSON(t *testing.T) {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body) // an empty body fails the check below
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_ = json.NewEncoder(w).Encode(map[string]string{ // the recorder does not fail
			"body": string(body), "type": r.Header.Get("Content-Type"), "agent": r.Header.Get("User-Agent"),
		})
	}))
	defer hs.Close()
	var got map[string]string
	code, err := testkit.PostJSON(hs.Client(), hs.URL, []byte(`{"a":1}`), map[string]string{"User-Agent": "t/1"}, &got)
	if err != nil {
		t.Fatal(err)
	}
	if code != http.StatusAccepted {
		t.Errorf("code=%d, want %d", code, http.StatusAccepted)
	}
	if got["body"] != `{"a":1}` || got["type"] != "application/json" || got["agent"] != "t/1" {
		t.Errorf("server saw %v", got)
	}
}

// Ensure Serve sends the method, target and header pairs to the handler.
func TestServe(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen", r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get("A")+r.Header.Get("B"))
		w.WriteHeader(http.StatusTeapot)
	})
	rec := testkit.Serve(h, http.MethodHead, "/x?y=1", "A", "1", "B", "2", "dangling")
	if got, want := rec.Code, http.StatusTeapot; got != want {
		t.Errorf("status=%d, want %d", got, want)
	}
	if got, want := rec.Header().Get("X-Seen"), "HEAD /x?y=1 12"; got != want {
		t.Errorf("handler saw %q, want %q", got, want)
	}
}
