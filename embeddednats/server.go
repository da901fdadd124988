// Package embeddednats runs a NATS server with JetStream inside the process,
// its file store under the data dir, for `trackskills serve` and
// `trackskills nats`.
package embeddednats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Config configures the embedded server.
type Config struct {
	// Addr is host:port to listen on; port -1 picks a free one. Empty means
	// no TCP listener at all (in-process connections only).
	Addr string
	// StoreDir is the JetStream file store directory.
	StoreDir string
	// SyncAlways makes JetStream fsync every write before acknowledging it,
	// so that an acknowledged event survives a power cut, not only a crash.
	SyncAlways bool
	// MaxStore caps the JetStream file store in bytes; 0 means no cap.
	MaxStore int64
	// ReadyTimeout bounds the wait for the server to accept connections.
	ReadyTimeout time.Duration
	// CredsDir holds a credentials file a user (Users), created on first
	// start with mode 0600; every client must log in as one of them, with
	// only the permissions of its part. Empty runs the server without
	// authentication: for tests only.
	CredsDir string

	// ServerName names the server; in a cluster each needs its own.
	// Empty means "trackskills".
	ServerName string
	// JetStreamDomain is the JetStream domain of the server (or of its
	// cluster): a leaf node needs its own, so that its stream and the
	// hub's are told apart. Empty means none.
	JetStreamDomain string
	// Cluster joins the server to a cluster; its zero value means none.
	Cluster ClusterConfig
	// Leaf makes the server a leaf node's hub or a leaf node; its zero
	// value means neither.
	Leaf LeafConfig
}

// DefaultConfig returns the configuration used when a flag is not set.
func DefaultConfig() Config {
	return Config{Addr: "127.0.0.1:4222", StoreDir: "data/nats", CredsDir: "data/" + CredsDirName, ReadyTimeout: 10 * time.Second}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.StoreDir == "" {
		return errors.New("nats store dir is required")
	}
	if c.Addr != "" {
		if _, _, err := splitAddr(c.Addr); err != nil {
			return err
		}
	}
	return c.validateCluster()
}

func splitAddr(addr string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("nats address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < -1 || port > 65535 {
		return "", 0, fmt.Errorf("nats address %q: bad port", addr)
	}
	if port == 0 {
		port = -1 // nats-server's "any free port"
	}
	return host, port, nil
}

// Server is a running embedded NATS server.
type Server struct {
	ns       *server.Server
	opts     *server.Options // those it started with, for a restart of JetStream
	logger   *slog.Logger
	creds    map[string]Creds // nil without authentication
	stop     chan struct{}    // closed by Shutdown: ends watchStore
	stopOnce sync.Once
}

// Start starts the server and waits until it accepts connections. It fails
// as soon as the server reports why it cannot start (the port is taken, the
// store cannot be written), with that reason, and as soon as ctx ends; only a
// server that neither starts nor fails waits out cfg.ReadyTimeout.
func Start(ctx context.Context, cfg Config, logger *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start nats: %w", err)
	}
	if err := os.MkdirAll(cfg.StoreDir, 0o750); err != nil {
		return nil, fmt.Errorf("create nats store dir: %w", err)
	}
	opts := &server.Options{
		ServerName: "trackskills",
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		// NoSigs is mandatory: otherwise nats-server traps SIGINT/SIGTERM
		// and exits the process before our own drain has run.
		NoSigs:            true,
		SyncAlways:        cfg.SyncAlways,
		JetStreamMaxStore: cfg.MaxStore,
		MaxPayload:        4 << 20,
	}
	var creds map[string]Creds
	if cfg.CredsDir != "" {
		var err error
		if creds, err = LoadOrCreateCreds(cfg.CredsDir); err != nil {
			return nil, err
		}
		opts.Users = serverUsers(creds)
	}
	if err := cfg.applyCluster(opts, cfg.CredsDir); err != nil {
		return nil, err
	}
	if cfg.Addr == "" {
		opts.DontListen = true
	} else {
		host, port, err := splitAddr(cfg.Addr)
		if err != nil {
			return nil, err
		}
		opts.Host, opts.Port = host, port
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("create nats server: %w", err)
	}
	adapter := &slogAdapter{l: logger, fatal: make(chan string, 1), broken: make(chan struct{}, 1)}
	ns.SetLoggerV2(adapter, false, false, false)
	go ns.Start()
	if err := waitReady(ctx, ns, adapter.fatal, cfg.ReadyTimeout); err != nil {
		ns.Shutdown()
		return nil, fmt.Errorf("start nats (addr %q, store dir %s): %w", cfg.Addr, cfg.StoreDir, err)
	}
	s := &Server{ns: ns, opts: opts, logger: logger, creds: creds, stop: make(chan struct{})}
	go s.watchStore(adapter.broken, s.stop)
	logger.Info("nats started", "addr", s.Addr(), "store_dir", cfg.StoreDir, "sync_always", cfg.SyncAlways, "auth", creds != nil,
		"server_name", opts.ServerName, "cluster", cfg.Cluster.Name, "jetstream_domain", cfg.JetStreamDomain)
	return s, nil
}

// waitReady waits until ns accepts connections. nats-server reports a
// failed start (a listener that cannot bind, JetStream that cannot open its
// store) only through its logger's Fatalf, after which Start returns and the
// server never becomes ready: fatal carries that message, so the caller
// learns the real cause at once instead of after the timeout.
func waitReady(ctx context.Context, ns *server.Server, fatal <-chan string, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	deadline := time.Now().Add(timeout)
	for {
		// Each call polls for up to 50 ms (nats-server sleeps between its
		// checks only for waits above 25 ms).
		if ns.ReadyForConnections(50 * time.Millisecond) {
			return nil
		}
		select {
		case msg := <-fatal:
			return errors.New(msg)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s", timeout)
		}
	}
}

// Addr returns the host:port clients can reach, or "" when not listening.
func (s *Server) Addr() string {
	if a, ok := s.ns.Addr().(*net.TCPAddr); ok && a != nil {
		return a.String()
	}
	return ""
}

// ClientURL returns the nats:// URL of the TCP listener, or "" when not
// listening.
func (s *Server) ClientURL() string {
	if s.Addr() == "" {
		return ""
	}
	return s.ns.ClientURL()
}

// Authenticated reports whether clients must log in.
func (s *Server) Authenticated() bool { return s.creds != nil }

// Connect opens an in-process client connection (no TCP), as UserAdmin
// when the server is authenticated.
func (s *Server) Connect(name string, opts ...nats.Option) (*nats.Conn, error) {
	return s.ConnectAs(UserAdmin, name, opts...)
}

// ConnectAs opens an in-process client connection (no TCP) as user, with
// user's permissions; without authentication user only names the inbox.
func (s *Server) ConnectAs(user, name string, opts ...nats.Option) (*nats.Conn, error) {
	base := []nats.Option{nats.Name(name), nats.InProcessServer(s.ns), nats.MaxReconnects(-1)}
	if s.creds != nil {
		c, ok := s.creds[user]
		if !ok {
			return nil, fmt.Errorf("connect in-process: no nats user %q", user)
		}
		base = append(base, nats.UserInfo(c.User, c.Password), nats.CustomInboxPrefix(InboxPrefix(user)))
	}
	nc, err := nats.Connect("", append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("connect in-process: %w", err)
	}
	return nc, nil
}

// Shutdown stops the server and waits until it has stopped, or until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() { close(s.stop) })
	done := make(chan struct{})
	go func() {
		s.ns.Shutdown()
		s.ns.WaitForShutdown()
		close(done)
	}()
	select {
	case <-done:
		s.logger.Info("nats stopped")
		return nil
	case <-ctx.Done():
		return fmt.Errorf("nats shutdown: %w", ctx.Err())
	}
}

// slogAdapter implements server.Logger on top of slog. Its first Fatalf
// message also goes to fatal (buffered, never blocking), for Start; an
// error that says the store cannot be written signals broken (storeBroken),
// for watchStore.
type slogAdapter struct {
	l      *slog.Logger
	fatal  chan string
	broken chan struct{}
}

func (a *slogAdapter) Noticef(format string, v ...any) { a.l.Debug(fmt.Sprintf(format, v...)) }
func (a *slogAdapter) Warnf(format string, v ...any)   { a.l.Warn(fmt.Sprintf(format, v...)) }
func (a *slogAdapter) Errorf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	a.l.Error(msg)
	if storeBroken(msg) {
		select {
		case a.broken <- struct{}{}:
		default: // already signalled
		}
	}
}
func (a *slogAdapter) Debugf(format string, v ...any) { a.l.Debug(fmt.Sprintf(format, v...)) }
func (a *slogAdapter) Tracef(format string, v ...any) { a.l.Debug(fmt.Sprintf(format, v...)) }

func (a *slogAdapter) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	a.l.Error(msg)
	select {
	case a.fatal <- msg:
	default: // a later fatal message: the first one is the cause
	}
}
