package testkit_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/trackskills/trackskills/testkit"
)

// Ensure MustStallGET returns the status line and then leaves the handler
// blocked on a body that it never reads.
func TestMustStallGET(t *testing.T) {
	blocked := make(chan error, 1)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		rc := http.NewResponseController(w)
		_ = rc.SetWriteDeadline(time.Now().Add(500 * time.Millisecond))
		chunk := []byte(strings.Repeat("x", 64<<10))
		for range 1024 { // 64 MiB: more than any socket buffer
			if _, err := w.Write(chunk); err != nil {
				blocked <- err
				return
			}
		}
		blocked <- nil
	}))
	t.Cleanup(hs.Close)
	if got, want := testkit.MustStallGET(t, hs.Listener.Addr().String(), "/"), "HTTP/1.1 418 I'm a teapot"; got != want {
		t.Errorf("status line %q, want %q", got, want)
	}
	if err := <-blocked; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("handler write: %v, want the deadline's error", err)
	}
}
