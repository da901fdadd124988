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

// MustStartNATS starts an embedded NATS server with cfg, logging through
// Logger(tb), and shuts it down in Cleanup. A test that restarts a server
// shuts it down itself and starts it again with the same cfg.Addr and
// cfg.StoreDir; the second shutdown in Cleanup is harmless. An empty
// cfg.Addr runs the server without a TCP listener (in-process connections
// only).
func MustStartNATS(tb testing.TB, cfg embeddednats.Config) *embeddednats.Server {
	tb.Helper()
	srv, err := embeddednats.Start(cfg, Logger(tb))
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
// returns a JetStream handle on it.
func MustJetStreamAt(tb testing.TB, url string) jetstream.JetStream {
	tb.Helper()
	nc, err := nats.Connect(url, nats.Name(tb.Name()))
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
