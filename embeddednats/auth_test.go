package embeddednats_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/embeddednats"
	"github.com/trackskills/trackskills/testkit"
)

// Ensure a client without credentials, or with a wrong password, is
// refused over TCP, while each user's own file logs it in.
func TestStart_Authenticated(t *testing.T) {
	srv, dir := testkit.MustRunAuthNATS(t)
	for _, tc := range []struct {
		name string
		opts []nats.Option
	}{
		{"NoCredentials", nil},
		{"WrongPassword", []nats.Option{nats.UserInfo(embeddednats.UserAdmin, "not-the-password")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc, err := nats.Connect(srv.ClientURL(), tc.opts...)
			if err == nil {
				nc.Close()
				t.Fatal("connected, want the login refused")
			}
			if !errors.Is(err, nats.ErrAuthorization) {
				t.Fatalf("err=%v, want an authorization violation", err)
			}
		})
	}
	for _, user := range embeddednats.Users {
		t.Run("As_"+user, func(t *testing.T) {
			nc, err := nats.Connect(srv.ClientURL(), testkit.AuthAt(t, dir, user)...)
			if err != nil {
				t.Fatalf("connect as %s: %v", user, err)
			}
			nc.Close()
		})
	}
}

// Ensure the credentials files are created with mode 0600 in a directory
// of mode 0700, and read back, not replaced, by the next start.
func TestLoadOrCreateCreds_Mode(t *testing.T) {
	dir := t.TempDir() + "/nats-creds"
	first, err := embeddednats.LoadOrCreateCreds(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := st.Mode().Perm(), os.FileMode(0o700); got != want {
		t.Errorf("dir mode=%v, want %v", got, want)
	}
	for _, user := range embeddednats.Users {
		st, err := os.Stat(embeddednats.CredsFile(dir, user))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := st.Mode().Perm(), os.FileMode(0o600); got != want {
			t.Errorf("%s: mode=%v, want %v", user, got, want)
		}
		if c := first[user]; c.User != user || len(c.Password) != 64 {
			t.Errorf("%s: creds %q with a %d-character password, want the user and 64", user, c.User, len(c.Password))
		}
	}
	again, err := embeddednats.LoadOrCreateCreds(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, user := range embeddednats.Users {
		if again[user] != first[user] {
			t.Errorf("%s: credentials changed on the second start", user)
		}
	}
}

// mustDenied fails unless err is the server refusing the request: a
// permission violation, or (when the violation reached only the async
// error handler) no answer before the deadline.
func mustDenied(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: allowed, want it denied", what)
	}
	if !errors.Is(err, nats.ErrPermissionViolation) && !errors.Is(err, context.DeadlineExceeded) &&
		!errors.Is(err, nats.ErrTimeout) && !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("%s: err=%v, want a permission violation", what, err)
	}
}

// shortCtx bounds a request that the server is expected to refuse.
func shortCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	t.Cleanup(cancel)
	return ctx
}

// Ensure each user can do what its part does, and nothing more that harms
// the stream: ingest publishes and declares the stream but cannot consume,
// delete the durable or purge the stream; the consumer pulls and
// acknowledges but cannot publish events; analytics reads the live feed
// and the state of the stream but publishes no event and changes nothing.
func TestPermissions(t *testing.T) {
	srv, _ := testkit.MustRunAuthNATS(t)
	ctx := context.Background()
	admin := testkit.MustJetStreamAs(t, srv, embeddednats.UserAdmin)

	ingest := testkit.MustJetStreamAs(t, srv, embeddednats.UserIngest)
	testkit.MustStream(t, ingest) // ingest declares the stream
	if _, err := ingest.Publish(ctx, trackskills.SubjectIngest, []byte("one")); err != nil {
		t.Fatalf("ingest publishes: %v", err)
	}

	cons := testkit.MustJetStreamAs(t, srv, embeddednats.UserConsumer)
	durable, err := cons.CreateOrUpdateConsumer(ctx, trackskills.StreamName, jetstream.ConsumerConfig{
		Durable: "sqlite", AckPolicy: jetstream.AckAllPolicy, FilterSubject: trackskills.StreamSubjects,
	})
	if err != nil {
		t.Fatalf("consumer creates its durable: %v", err)
	}
	batch, err := durable.Fetch(1, jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		t.Fatalf("consumer pulls: %v", err)
	}
	n := 0
	for m := range batch.Messages() {
		if err := m.DoubleAck(ctx); err != nil {
			t.Fatalf("consumer acknowledges: %v", err)
		}
		n++
	}
	if n != 1 {
		t.Fatalf("consumer pulled %d messages, want 1", n)
	}
	if _, err := cons.Stream(ctx, trackskills.StreamName); err != nil {
		t.Fatalf("consumer reads the stream info: %v", err)
	}

	t.Run("IngestCannotConsume", func(t *testing.T) {
		_, err := ingest.CreateOrUpdateConsumer(shortCtx(t), trackskills.StreamName, jetstream.ConsumerConfig{Durable: "thief", FilterSubject: trackskills.StreamSubjects})
		mustDenied(t, "create a consumer", err)
		nc := testkit.MustConnectAs(t, srv, embeddednats.UserIngest)
		_, err = nc.Request("$JS.API.CONSUMER.MSG.NEXT."+trackskills.StreamName+".sqlite", []byte(`{"batch":1}`), 500*time.Millisecond)
		mustDenied(t, "pull from the durable", err)
	})
	t.Run("IngestCannotDeleteDurable", func(t *testing.T) {
		mustDenied(t, "delete the durable", ingest.DeleteConsumer(shortCtx(t), trackskills.StreamName, "sqlite"))
	})
	t.Run("IngestCannotPurge", func(t *testing.T) {
		s, err := ingest.Stream(ctx, trackskills.StreamName)
		if err != nil {
			t.Fatal(err)
		}
		mustDenied(t, "purge the stream", s.Purge(shortCtx(t)))
		mustDenied(t, "delete the stream", ingest.DeleteStream(shortCtx(t), trackskills.StreamName))
		mustDenied(t, "delete a message", s.DeleteMsg(shortCtx(t), 1))
	})
	t.Run("ConsumerCannotPublish", func(t *testing.T) {
		_, err := cons.Publish(shortCtx(t), trackskills.SubjectIngest, []byte("forged"))
		mustDenied(t, "publish an event", err)
		s, err := cons.Stream(ctx, trackskills.StreamName)
		if err != nil {
			t.Fatal(err)
		}
		mustDenied(t, "purge the stream", s.Purge(shortCtx(t)))
	})
	t.Run("AnalyticsOnlyReads", func(t *testing.T) {
		nc := testkit.MustConnectAs(t, srv, embeddednats.UserAnalytics)
		sub, err := nc.SubscribeSync(trackskills.StreamSubjects)
		if err != nil {
			t.Fatal(err)
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		if _, err := ingest.Publish(ctx, trackskills.SubjectIngest, []byte("live")); err != nil {
			t.Fatal(err)
		}
		if _, err := sub.NextMsg(2 * time.Second); err != nil {
			t.Fatalf("analytics reads the live feed: %v", err)
		}
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		_, err = js.Publish(shortCtx(t), trackskills.SubjectIngest, []byte("forged"))
		mustDenied(t, "publish an event", err)
		s, err := js.Stream(ctx, trackskills.StreamName)
		if err != nil {
			t.Fatalf("analytics reads the stream info: %v", err)
		}
		if _, err := s.Consumer(ctx, "sqlite"); err != nil {
			t.Fatalf("analytics reads the durable's info: %v", err)
		}
		if _, err := s.GetMsg(ctx, 1); err != nil {
			t.Fatalf("analytics reads a message: %v", err)
		}
		mustDenied(t, "purge the stream", s.Purge(shortCtx(t)))
		mustDenied(t, "delete the durable", js.DeleteConsumer(shortCtx(t), trackskills.StreamName, "sqlite"))
	})
	s, err := admin.Stream(ctx, trackskills.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.CachedInfo().State.Msgs, uint64(2); got != want {
		t.Fatalf("stream holds %d messages, want %d (none forged, none purged)", got, want)
	}
	if _, err := admin.Consumer(ctx, trackskills.StreamName, "sqlite"); err != nil {
		t.Fatalf("the durable is gone: %v", err)
	}
}
