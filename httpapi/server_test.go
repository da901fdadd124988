package httpapi_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trackskills/trackskills/httpapi"
)

// Ensure Listen binds at once (port 0 included), URL reaches the server,
// Shutdown waits for the request in flight and then Serve returns nil.
func TestServer_ListenServeShutdown(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(started)
			<-release
		}
		_, _ = io.WriteString(w, "hello") // a failed write only fails the test below
	})
	srv, err := httpapi.Listen("127.0.0.1:0", h)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(srv.URL(), "http://127.0.0.1:") || strings.HasSuffix(srv.URL(), ":0") {
		t.Fatalf("URL()=%q, want http://127.0.0.1:<port>", srv.URL())
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()

	resp, err := http.Get(srv.URL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body) // compared below
	_ = resp.Body.Close()            // read in full
	if string(body) != "hello" {
		t.Fatalf("GET / = %q, want hello", body)
	}

	slow := make(chan error, 1)
	go func() {
		resp, err := http.Get(srv.URL() + "/slow")
		if err == nil {
			_ = resp.Body.Close() // only the error matters
		}
		slow <- err
	}()
	<-started
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if err := <-slow; err != nil {
		t.Errorf("request in flight: %v", err)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve after Shutdown: %v, want nil", err)
	}
	if _, err := http.Get(srv.URL() + "/"); err == nil {
		t.Errorf("GET after Shutdown succeeded")
	}
}

// Ensure a bind error comes from Listen, and that Shutdown without Serve
// frees the port.
func TestServer_Listen(t *testing.T) {
	srv, err := httpapi.Listen("127.0.0.1:0", http.NotFoundHandler())
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(srv.URL(), "http://")
	if _, err := httpapi.Listen(addr, http.NotFoundHandler()); err == nil || !strings.Contains(err.Error(), "listen on "+addr) {
		t.Errorf("second Listen on %s: err=%v, want a bind error", addr, err)
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown without Serve: %v", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("port not freed by Shutdown: %v", err)
	}
	_ = ln.Close() // the test is over
	if err := srv.Serve(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve after Shutdown: %v, want nil", err)
	}
}

// Ensure the server refuses headers beyond MaxHeaderBytes with 431 and
// takes ones well below.
func TestServer_MaxHeaderBytes(t *testing.T) {
	srv, err := httpapi.Listen("127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve() }()                              // ends with Shutdown
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) }) // the test is over
	for _, tt := range []struct {
		name string
		size int
		want int
	}{
		{"Small", 8 << 10, http.StatusOK},
		{"ErrTooLarge", 2 * httpapi.MaxHeaderBytes, http.StatusRequestHeaderFieldsTooLarge},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, srv.URL()+"/", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Big", strings.Repeat("a", tt.size))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close() // only the status matters
			if resp.StatusCode != tt.want {
				t.Errorf("status=%d, want %d", resp.StatusCode, tt.want)
			}
		})
	}
}
