package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Timeouts and limits of every HTTP server. There is no write timeout: the
// analytics live stream holds its responses open. The header limit is Go's
// default, named: a dashboard on a host with many cookies sends large
// headers.
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = 30 * time.Second
	IdleTimeout       = 120 * time.Second
	MaxHeaderBytes    = http.DefaultMaxHeaderBytes
)

// Server is an HTTP server on a listener that is open from Listen on, so
// that a bind error is Listen's and port 0 works.
type Server struct {
	ln   net.Listener
	http *http.Server
}

// Listen opens a TCP listener on addr for h; Serve answers on it.
func Listen(addr string, h http.Handler) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return &Server{ln: ln, http: &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
	}}, nil
}

// URL returns the base URL of the server, http://host:port.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// Serve answers HTTP until Shutdown, then returns nil.
func (s *Server) Serve() error {
	if err := s.http.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve http: %w", err)
	}
	return nil
}

// Shutdown stops accepting requests and waits for the ones in flight, or
// until ctx ends. It closes the listener even if Serve never ran.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.http.Shutdown(ctx)
	if errLn := s.ln.Close(); errLn != nil && !errors.Is(errLn, net.ErrClosed) && err == nil {
		err = errLn
	}
	if err != nil {
		return fmt.Errorf("shutdown http: %w", err)
	}
	return nil
}
