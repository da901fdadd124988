package ingest_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/trackskills/trackskills/ingest"
	"github.com/trackskills/trackskills/testkit"
)

// Ensure a size-capped stream keeps taking events once full, dropping the
// oldest (retention by size), instead of refusing every publish.
func TestEnsureStream_MaxBytes(t *testing.T) {
	srv, js := MustServer(t, testConfig())
	ctx := context.Background()
	cfg := ingest.DefaultStreamConfig()
	cfg.MaxBytes = 64 << 10
	if _, err := ingest.EnsureStream(ctx, js, cfg); err != nil {
		t.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 100; i++ { // ~200 KB of incompressible text, three times the cap
		var msg strings.Builder
		for msg.Len() < 2000 {
			fmt.Fprintf(&msg, "%016x", rnd.Uint64())
		}
		big := `{"tool_name":"t","status":"error","error_message":"` + msg.String() + `"}`
		if rec := post(srv.Handler(), "/api/track", big); rec.Code != http.StatusOK {
			t.Fatalf("event %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	if state := testkit.MustStreamState(t, js); state.Bytes > uint64(cfg.MaxBytes) || state.FirstSeq == 1 {
		t.Fatalf("stream holds %d bytes from seq %d; want at most %d, oldest dropped", state.Bytes, state.FirstSeq, cfg.MaxBytes)
	}
}
