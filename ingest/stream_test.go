package ingest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/httpapi"
	"github.com/trackskills/trackskills/ingest"
	"github.com/trackskills/trackskills/testkit"
)

// bigEvent returns an event of about 2 KB of incompressible text.
func bigEvent(rnd *rand.Rand) string {
	var msg strings.Builder
	for msg.Len() < 2000 {
		fmt.Fprintf(&msg, "%016x", rnd.Uint64())
	}
	return `{"tool_name":"t","status":"error","error_message":"` + msg.String() + `"}`
}

// Ensure a size-capped stream that nobody consumes refuses new events
// with a 503 that says the store is full, and drops none that it took:
// every event answered 200 is still in the stream.
func TestDeclareStream_FullRefusesNew(t *testing.T) {
	srv, js := MustServer(t, testConfig())
	ctx := context.Background()
	cfg := ingest.DefaultStreamConfig()
	cfg.MaxBytes, cfg.Given.MaxBytes = 64<<10, true
	if _, err := ingest.EnsureStream(ctx, js, cfg); err != nil {
		t.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	accepted, refused := 0, 0
	for range 100 { // ~200 KB, three times the cap
		rec := post(srv.Handler(), "/api/track", bigEvent(rnd))
		switch rec.Code {
		case http.StatusOK:
			accepted++
			if refused > 0 {
				t.Fatal("an event accepted after one was refused, with nothing consumed")
			}
		case http.StatusServiceUnavailable:
			refused++
			var body httpapi.ErrorBody
			decode(t, rec, &body)
			if body.Error != ingest.StoreFullMessage || rec.Header().Get("Retry-After") != "5" {
				t.Fatalf("503 %q, Retry-After %q; want the store-full message and 5", body.Error, rec.Header().Get("Retry-After"))
			}
		default:
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
	state := testkit.MustStreamState(t, js)
	if refused == 0 || state.FirstSeq != 1 || state.Msgs != uint64(accepted) || state.Bytes > uint64(cfg.MaxBytes) {
		t.Fatalf("accepted %d, refused %d; stream holds %d messages (%d bytes) from seq %d: want all accepted kept, none past the cap",
			accepted, refused, state.Msgs, state.Bytes, state.FirstSeq)
	}
	rec := testkit.Serve(srv.Handler(), http.MethodGet, "/readyz")
	var ready struct {
		Checks map[string]string `json:"checks"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &ready); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusServiceUnavailable || !strings.HasPrefix(ready.Checks["store"], "cannot store: ") {
		t.Fatalf("/readyz %d %s; want 503 with store: cannot store", rec.Code, rec.Body)
	}
}

// Ensure a part that declares the stream changes only the limits it was
// given, and only the owner (the process that runs NATS) loosens one: a
// part started with its defaults after another set a limit keeps it.
func TestDeclareStream_NeverLoosens(t *testing.T) {
	const mb = 1 << 20
	tests := []struct {
		name      string
		existing  int64 // MaxBytes of the stream before; -1 none
		cfg       ingest.StreamConfig
		wantBytes int64
		wantAge   time.Duration
	}{
		{"defaults leave a cap", 8 * mb, ingest.StreamConfig{}, 8 * mb, 90 * 24 * time.Hour},
		{"owner's defaults leave a cap", 8 * mb, ingest.StreamConfig{Owner: true}, 8 * mb, 90 * 24 * time.Hour},
		{"given tighter cap applies", 8 * mb, ingest.StreamConfig{MaxBytes: 4 * mb, Given: ingest.StreamSettings{MaxBytes: true}}, 4 * mb, 90 * 24 * time.Hour},
		{"given cap on an uncapped stream applies", -1, ingest.StreamConfig{MaxBytes: 4 * mb, Given: ingest.StreamSettings{MaxBytes: true}}, 4 * mb, 90 * 24 * time.Hour},
		{"given looser cap left", 8 * mb, ingest.StreamConfig{MaxBytes: 16 * mb, Given: ingest.StreamSettings{MaxBytes: true}}, 8 * mb, 90 * 24 * time.Hour},
		{"given no cap left", 8 * mb, ingest.StreamConfig{Given: ingest.StreamSettings{MaxBytes: true}}, 8 * mb, 90 * 24 * time.Hour},
		{"owner loosens", 8 * mb, ingest.StreamConfig{Owner: true, MaxBytes: 16 * mb, Given: ingest.StreamSettings{MaxBytes: true}}, 16 * mb, 90 * 24 * time.Hour},
		{"owner removes the cap", 8 * mb, ingest.StreamConfig{Owner: true, Given: ingest.StreamSettings{MaxBytes: true}}, -1, 90 * 24 * time.Hour},
		{"given shorter age applies", 8 * mb, ingest.StreamConfig{MaxAge: time.Hour, Given: ingest.StreamSettings{MaxAge: true}}, 8 * mb, time.Hour},
		{"given longer age left", 8 * mb, ingest.StreamConfig{MaxAge: 900 * time.Hour * 24, Given: ingest.StreamSettings{MaxAge: true}}, 8 * mb, 90 * 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			js := testkit.MustJetStream(t, testkit.MustRunNATS(t))
			ctx := context.Background()
			first := ingest.DefaultStreamConfig()
			first.MaxBytes = max(tt.existing, 0)
			if _, err := ingest.EnsureStream(ctx, js, first); err != nil {
				t.Fatal(err)
			}
			cfg := tt.cfg
			cfg.Duplicates, cfg.Replicas = 2*time.Minute, 1
			s, err := ingest.EnsureStream(ctx, js, cfg)
			if err != nil {
				t.Fatal(err)
			}
			got := s.CachedInfo().Config
			if got.MaxBytes != tt.wantBytes || got.MaxAge != tt.wantAge || got.Discard != jetstream.DiscardNew {
				t.Fatalf("max bytes %d, max age %s, discard %s; want %d, %s, new", got.MaxBytes, got.MaxAge, got.Discard, tt.wantBytes, tt.wantAge)
			}
		})
	}
}

// Ensure a stream made before, which dropped its oldest events when full
// (DiscardOld), refuses new ones once declared again.
func TestDeclareStream_OldDiscardPolicy(t *testing.T) {
	js := testkit.MustJetStream(t, testkit.MustRunNATS(t))
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: trackskills.StreamName, Subjects: []string{trackskills.StreamSubjects}, Storage: jetstream.FileStorage,
		MaxBytes: 1 << 20, Discard: jetstream.DiscardOld,
	}); err != nil {
		t.Fatal(err)
	}
	s, err := ingest.EnsureStream(ctx, js, ingest.DefaultStreamConfig())
	if err != nil {
		t.Fatal(err)
	}
	if c := s.CachedInfo().Config; c.Discard != jetstream.DiscardNew || c.MaxBytes != 1<<20 {
		t.Fatalf("discard %s, max bytes %d; want new, the cap kept", c.Discard, c.MaxBytes)
	}
}

// Ensure the stream's leaf sources are set when it is made, changed only
// by the owner, left alone by any other part, and that RestartSource
// removes a source and puts it back as it was.
func TestDeclareStream_Sources(t *testing.T) {
	t.Parallel()
	js := testkit.MustJetStream(t, testkit.MustRunNATS(t))
	ctx := context.Background()
	sources := func() []string {
		t.Helper()
		s, err := js.Stream(ctx, trackskills.StreamName)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, src := range s.CachedInfo().Config.Sources {
			if src.Name != trackskills.StreamName || src.External == nil {
				t.Fatalf("source %+v, want the events stream of another domain", src)
			}
			out = append(out, src.External.APIPrefix)
		}
		return out
	}
	declare := func(cfg ingest.StreamConfig) {
		t.Helper()
		if _, err := ingest.EnsureStream(ctx, js, cfg); err != nil {
			t.Fatal(err)
		}
	}
	cfg := ingest.DefaultStreamConfig()
	cfg.Sources, cfg.Owner, cfg.Given.Sources = []string{"office"}, true, true
	declare(cfg)
	if got := sources(); len(got) != 1 || got[0] != "$JS.office.API" {
		t.Fatalf("sources %v, want $JS.office.API", got)
	}
	declare(ingest.DefaultStreamConfig()) // a part that names no sources
	if got := sources(); len(got) != 1 {
		t.Fatalf("sources %v after a part without sources, want them kept", got)
	}
	cfg.Sources = []string{"office", "lisbon"}
	declare(cfg)
	if got := sources(); len(got) != 2 || got[1] != "$JS.lisbon.API" {
		t.Fatalf("sources %v, want office and lisbon", got)
	}
	if err := ingest.RestartSource(ctx, js, "office"); err != nil {
		t.Fatal(err)
	}
	if got := sources(); len(got) != 2 || got[0] != "$JS.office.API" || got[1] != "$JS.lisbon.API" {
		t.Fatalf("sources %v after a restart, want them as they were", got)
	}
	if err := ingest.RestartSource(ctx, js, "nowhere"); err == nil {
		t.Fatal("restarted a source the stream does not have")
	}
}

// Ensure the stream settings refuse a source that is no JetStream domain,
// or one given twice.
func TestStreamConfig_ValidateSources(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		sources []string
		ok      bool
	}{
		{[]string{"office", "lisbon-2"}, true},
		{[]string{"a.b"}, false},
		{[]string{"a>"}, false},
		{[]string{""}, false},
		{[]string{"office", "office"}, false},
	} {
		cfg := ingest.DefaultStreamConfig()
		cfg.Sources = tc.sources
		if err := cfg.Validate(); (err == nil) != tc.ok {
			t.Errorf("Validate(%q)=%v, want ok=%v", tc.sources, err, tc.ok)
		}
	}
}
