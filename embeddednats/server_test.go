package embeddednats_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills/embeddednats"
	"github.com/trackskills/trackskills/testkit"
)

// Ensure the server starts with JetStream on a file store, answers over TCP
// and in-process, keeps stored messages across a restart, and shuts down.
func TestStart_OK(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	srv, err := embeddednats.Start(ctx, embeddednats.Config{Addr: "127.0.0.1:0", StoreDir: dir}, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	addr := srv.Addr()
	if !strings.HasPrefix(addr, "127.0.0.1:") || strings.HasSuffix(addr, ":0") {
		t.Fatalf("addr=%q, want a bound loopback port", addr)
	}
	nc, err := srv.Connect("test")
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "s.1", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	tcp, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatalf("tcp connect: %v", err)
	}
	tcp.Close()
	nc.Close()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
		t.Fatal("server still listening after Shutdown")
	}

	// The file store keeps the message.
	srv, err = embeddednats.Start(ctx, embeddednats.Config{Addr: "", StoreDir: dir}, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(ctx) //nolint:errcheck // the test is over
	if got := srv.Addr(); got != "" {
		t.Fatalf("addr=%q, want none without a listener", got)
	}
	nc, err = srv.Connect("test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ = jetstream.New(nc) // New only fails on bad options
	s, err := js.Stream(ctx, "S")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := info.State.Msgs, uint64(1); got != want {
		t.Fatalf("messages after restart=%d, want %d", got, want)
	}
}

// Ensure bad configurations, a taken port and a store that cannot be
// written are reported at once, each with its own cause: the ready timeout
// is a minute, so a Start that waited it out would also fail on the message.
func TestStart_Err(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// A file where JetStream puts its directory: the store cannot be
	// written, whoever runs the test (root ignores permission bits).
	badStore := t.TempDir()
	if err := os.WriteFile(filepath.Join(badStore, "jetstream"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  embeddednats.Config
		want []string
	}{
		{"NoStoreDir", embeddednats.Config{Addr: "127.0.0.1:0"}, []string{"store dir"}},
		{"BadAddr", embeddednats.Config{Addr: "nowhere", StoreDir: t.TempDir()}, []string{"nats address"}},
		{"BadPort", embeddednats.Config{Addr: "127.0.0.1:99999", StoreDir: t.TempDir()}, []string{"bad port"}},
		{"PortTaken", embeddednats.Config{Addr: ln.Addr().String(), StoreDir: t.TempDir(), ReadyTimeout: time.Minute},
			[]string{"listening", ln.Addr().String(), "address already in use"}},
		{"StoreNotWritable", embeddednats.Config{Addr: "127.0.0.1:0", StoreDir: badStore, ReadyTimeout: time.Minute},
			[]string{"JetStream", badStore}},
		{"StoreNotWritableNoPort", embeddednats.Config{StoreDir: badStore, ReadyTimeout: time.Minute},
			[]string{"JetStream", badStore}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := embeddednats.Start(context.Background(), tc.cfg, testkit.Logger(t))
			if err == nil {
				_ = srv.Shutdown(context.Background()) // unexpected success; clean up
				t.Fatal("Start succeeded, want an error")
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Fatalf("err=%v, want one containing %q", err, want)
				}
			}
		})
	}
}

// Ensure Start gives up when its context ends instead of waiting out the
// ready timeout.
func TestStart_Canceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	srv, err := embeddednats.Start(ctx, embeddednats.Config{Addr: "127.0.0.1:0", StoreDir: t.TempDir(), ReadyTimeout: time.Minute}, testkit.Logger(t))
	if err == nil {
		_ = srv.Shutdown(context.Background()) // unexpected success; clean up
		t.Fatal("Start succeeded, want an error")
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err=%v, want context.Canceled", err)
	}
}
