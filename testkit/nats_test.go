package testkit_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/embeddednats"
	"github.com/trackskills/trackskills/testkit"
)

// streamMsgs returns the number of messages in the events stream.
func streamMsgs(tb testing.TB, js jetstream.JetStream) uint64 {
	tb.Helper()
	return testkit.MustStreamState(tb, js).Msgs
}

// Ensure MustRunStream gives a JetStream handle on a listening server with
// the events stream declared.
func TestMustRunStream(t *testing.T) {
	js := testkit.MustRunStream(t)
	if _, err := js.Publish(context.Background(), trackskills.SubjectIngest, []byte("{}")); err != nil {
		t.Fatalf("publish: %v", err)
	}
	if got, want := streamMsgs(t, js), uint64(1); got != want {
		t.Fatalf("messages=%d, want %d", got, want)
	}
}

// Ensure a server restarted on the same address and store keeps the stream
// and its messages, and that Cleanup's second shutdown is harmless.
func TestMustStartNATS_Restart(t *testing.T) {
	cfg := embeddednats.Config{Addr: testkit.MustFreeAddr(t), StoreDir: t.TempDir()}
	srv := testkit.MustStartNATS(t, cfg)
	if got := srv.Addr(); got != cfg.Addr {
		t.Fatalf("Addr()=%q, want %q", got, cfg.Addr)
	}
	js := testkit.MustJetStream(t, srv)
	testkit.MustStream(t, js)
	if _, err := js.Publish(context.Background(), trackskills.SubjectIngest, []byte("{}")); err != nil {
		t.Fatalf("publish: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	srv = testkit.MustStartNATS(t, cfg)
	if got := srv.Addr(); got != cfg.Addr {
		t.Fatalf("Addr()=%q after the restart, want %q", got, cfg.Addr)
	}
	if got, want := streamMsgs(t, testkit.MustJetStream(t, srv)), uint64(1); got != want {
		t.Fatalf("messages after the restart=%d, want %d", got, want)
	}
}

// Ensure a server without an address runs without a listener and still
// takes in-process connections.
func TestMustStartNATS_NoListener(t *testing.T) {
	srv := testkit.MustStartNATS(t, embeddednats.Config{StoreDir: t.TempDir()})
	if got := srv.Addr(); got != "" {
		t.Fatalf("Addr()=%q, want none", got)
	}
	nc := testkit.MustConnect(t, srv)
	if !nc.IsConnected() {
		t.Fatal("in-process connection is not connected")
	}
}
