package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/testkit"
)

// Ensure serve stops cleanly within its shutdown timeout while an export
// whose client stopped reading is open, and logs that it cut the export.
func TestServe_StopWithStalledExport(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	dir := t.TempDir()
	// Enough export to fill every socket buffer between serve and a
	// client that does not read: 3,000 events of 8 KB.
	db, err := sql.Open(context.Background(), filepath.Join(dir, "trackskills.db"))
	if err != nil {
		t.Fatal(err)
	}
	pad := strings.Repeat("x", trackskills.MaxMetadata-64)
	now := time.Now()
	evs := make([]trackskills.Event, 3000)
	for i := range evs {
		evs[i] = trackskills.Event{EventID: fmt.Sprintf("stall-%05d", i), ToolName: "big_tool", ToolCategory: "default",
			Status: trackskills.StatusSuccess, Timestamp: now.Add(-time.Minute).UnixMilli(), ReceivedAt: now.UnixMilli(),
			UserHash: strings.Repeat("ab", 16), Source: trackskills.DefaultSource, Metadata: json.RawMessage(`{"pad":"` + pad + `"}`)}
	}
	if _, err := db.WriteBatch(context.Background(), evs, nil); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	httpAddr := testkit.MustFreeAddr(t)
	p := startBinary(t, nil, "serve", "--data-dir", dir, "--http-addr", httpAddr, "--nats-addr", testkit.MustFreeAddr(t),
		"--shutdown-timeout", "5s")
	mustWaitReady(t, p, httpAddr)
	if line := testkit.MustStallGET(t, httpAddr, "/analytics/export.ndjson?days=1"); !strings.HasPrefix(line, "HTTP/1.1 200") {
		t.Fatalf("stalled export: %q, want a 200", line)
	}
	// A clean exit means every part stopped before the shutdown timeout.
	if err := p.MustStop(t, syscall.SIGTERM, stopTimeout); err != nil {
		t.Fatalf("serve exit with a stalled export open: %v\n%s", err, p.Logs())
	}
	if logs := p.Logs(); !strings.Contains(logs, "export cut by shutdown") {
		t.Errorf("serve did not log the cut export:\n%s", logs)
	}
}
