package testkit

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills/embeddednats"
	"github.com/trackskills/trackskills/ingest"
)

// natsTimeout bounds a NATS shutdown and a stream declaration, as in every
// copy this package replaces.
const natsTimeout = 10 * time.Second

// MustRunNATS starts an embedded NATS server with JetStream, listening on a
// free loopback port with its store in tb.TempDir(), and shuts it down in
// Cleanup.
func MustRunNATS(tb testing.TB) *embeddednats.Server {
	tb.Helper()
	return MustStartNATS(tb, embeddednats.Config{Addr: "127.0.0.1:-1", StoreDir: tb.TempDir()})
}

// MustRunAuthNATS is MustRunNATS with authentication, as serve and
// `trackskills nats` run it: the users' credentials files are in
// srv's cfg.CredsDir, a tb.TempDir(), returned too.
func MustRunAuthNATS(tb testing.TB) (srv *embeddednats.Server, credsDir string) {
	tb.Helper()
	credsDir = tb.TempDir()
	return MustStartNATS(tb, embeddednats.Config{Addr: "127.0.0.1:-1", StoreDir: tb.TempDir(), CredsDir: credsDir}), credsDir
}

// MustStartNATS starts an embedded NATS server with cfg, logging through
// Logger(tb), and shuts it down in Cleanup. A test that restarts a server
// shuts it down itself and starts it again with the same cfg.Addr and
// cfg.StoreDir; the second shutdown in Cleanup is harmless. An empty
// cfg.Addr runs the server without a TCP listener (in-process connections
// only).
func MustStartNATS(tb testing.TB, cfg embeddednats.Config) *embeddednats.Server {
	tb.Helper()
	srv, err := embeddednats.Start(context.Background(), cfg, Logger(tb))
	if err != nil {
		tb.Fatalf("start nats: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), natsTimeout)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			tb.Errorf("shutdown nats: %v", err)
		}
	})
	return srv
}

// MustConnect opens an in-process connection to srv named after the test,
// closed in Cleanup.
func MustConnect(tb testing.TB, srv *embeddednats.Server, opts ...nats.Option) *nats.Conn {
	tb.Helper()
	nc, err := srv.Connect(tb.Name(), opts...)
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// MustConnectAs opens an in-process connection to srv as user (one of
// embeddednats.Users), named after the test, closed in Cleanup.
func MustConnectAs(tb testing.TB, srv *embeddednats.Server, user string, opts ...nats.Option) *nats.Conn {
	tb.Helper()
	nc, err := srv.ConnectAs(user, tb.Name(), opts...)
	if err != nil {
		tb.Fatalf("connect as %s: %v", user, err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// MustJetStreamAs is MustJetStream logged in as user.
func MustJetStreamAs(tb testing.TB, srv *embeddednats.Server, user string, opts ...jetstream.JetStreamOpt) jetstream.JetStream {
	tb.Helper()
	js, err := jetstream.New(MustConnectAs(tb, srv, user), opts...)
	if err != nil {
		tb.Fatalf("jetstream: %v", err)
	}
	return js
}

// MustJetStream opens an in-process connection to srv, closed in Cleanup,
// and returns a JetStream handle on it. Without opts the handle has the
// library's defaults, as the tests have always used; serve adds
// jetstream.WithPublishAsyncMaxPending and WithPublishAsyncTimeout, which a
// test that wants serve's publisher passes here.
func MustJetStream(tb testing.TB, srv *embeddednats.Server, opts ...jetstream.JetStreamOpt) jetstream.JetStream {
	tb.Helper()
	js, err := jetstream.New(MustConnect(tb, srv), opts...)
	if err != nil {
		tb.Fatalf("jetstream: %v", err)
	}
	return js
}

// MustJetStreamAt connects to the NATS server at url, as any client on the
// network would (a process of the binary, say), closed in Cleanup, and
// returns a JetStream handle on it; opts add to the connection's options
// (nats.UserInfo for an authenticated server, say).
func MustJetStreamAt(tb testing.TB, url string, opts ...nats.Option) jetstream.JetStream {
	tb.Helper()
	nc, err := nats.Connect(url, append([]nats.Option{nats.Name(tb.Name())}, opts...)...)
	if err != nil {
		tb.Fatalf("connect to %s: %v", url, err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatalf("jetstream: %v", err)
	}
	return js
}

// AuthAt returns the options that log a connection in as user with the
// credentials file in credsDir (a data dir's nats-creds, or
// MustRunAuthNATS's), for MustJetStreamAt.
func AuthAt(tb testing.TB, credsDir, user string) []nats.Option {
	tb.Helper()
	c, err := embeddednats.ReadCreds(embeddednats.CredsFile(credsDir, user))
	if err != nil {
		tb.Fatalf("credentials of %s: %v", user, err)
	}
	return []nats.Option{nats.UserInfo(c.User, c.Password), nats.CustomInboxPrefix(embeddednats.InboxPrefix(user))}
}

// MustStream declares the events stream with ingest's default settings, as
// ingest does at start.
func MustStream(tb testing.TB, js jetstream.JetStream) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), natsTimeout)
	defer cancel()
	if _, err := ingest.EnsureStream(ctx, js, ingest.DefaultStreamConfig()); err != nil {
		tb.Fatalf("ensure stream: %v", err)
	}
}

// MustRunStream starts NATS (MustRunNATS), connects in-process and declares
// the events stream.
func MustRunStream(tb testing.TB, opts ...jetstream.JetStreamOpt) jetstream.JetStream {
	tb.Helper()
	js := MustJetStream(tb, MustRunNATS(tb), opts...)
	MustStream(tb, js)
	return js
}
