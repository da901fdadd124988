package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/trackskills/trackskills/embeddednats"
	"github.com/trackskills/trackskills/testkit"
)

// Ensure the README's recovery from a lost disk works, with the stream on
// a NATS server of its own (as on a cluster) and the database on a disk
// that is lost: a backup restored, then a replay of the stream into it,
// then the consumer started again, give every event ingest acknowledged
// (before the backup, after it, and while the database was gone) exactly
// once, in the raw rows and in the aggregates.
func TestRecovery_LostDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	natsDir, disk, backups := t.TempDir(), t.TempDir(), t.TempDir()
	natsAddr, ingestAddr, healthAddr := testkit.MustFreeAddr(t), testkit.MustFreeAddr(t), testkit.MustFreeAddr(t)
	natsURL := "nats://" + natsAddr
	ns := startBinary(t, nil, "nats", "--data-dir", natsDir, "--nats-addr", natsAddr)
	ing := startBinary(t, nil, "ingest", "--data-dir", natsDir, "--nats-url", natsURL, "--http-addr", ingestAddr)
	mustWaitReady(t, ing, ingestAddr)
	// The consumer's data dir is another disk: the credentials the nats
	// process made are given by path.
	creds := filepath.Join(natsDir, embeddednats.CredsDirName)
	consumerArgs := []string{"consumer", "--data-dir", disk, "--nats-url", natsURL, "--health-addr", healthAddr, "--batch-wait", "20ms",
		"--nats-creds", embeddednats.CredsFile(creds, embeddednats.UserConsumer)}
	cons := startBinary(t, nil, consumerArgs...)
	mustWaitReady(t, cons, healthAddr)
	dbPath := filepath.Join(disk, "trackskills.db")

	postEvents(t, ingestAddr, 0, 200)
	waitRows(t, dbPath, 200)
	backup := filepath.Join(backups, "trackskills-2026-11-30.db")
	if _, errOut, err := runCmd(t, "backup", "--db", dbPath, "--out", backup, "--check"); err != nil {
		t.Fatalf("backup: %v\n%s", err, errOut)
	}
	postEvents(t, ingestAddr, 200, 350)
	waitRows(t, dbPath, 350)

	// The disk goes, and the consumer with it; ingest goes on.
	_ = cons.MustStop(t, syscall.SIGKILL, stopTimeout) // killed: its exit error says so
	if err := os.RemoveAll(disk); err != nil {
		t.Fatal(err)
	}
	postEvents(t, ingestAddr, 350, 400)

	// A new disk: the backup back in place, the stream replayed into it.
	if err := os.MkdirAll(disk, 0o750); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dbPath, data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, err := runCmd(t, "replay", "--db", dbPath, "--from-seq", "1", "--nats-url", natsURL,
		"--nats-creds", embeddednats.CredsFile(creds, embeddednats.UserAdmin))
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, errOut)
	}
	if !strings.Contains(errOut, "200 inserted, 200 already present") {
		t.Errorf("replay summary %q: want the 200 events after the backup inserted and the backup's 200 present", errOut)
	}
	cons = startBinary(t, nil, consumerArgs...)
	mustWaitReady(t, cons, healthAddr)
	postEvents(t, ingestAddr, 400, 420)
	waitRows(t, dbPath, 420)

	analyticsAddr := testkit.MustFreeAddr(t)
	api := startBinary(t, nil, "analytics", "--db", dbPath, "--nats-url", "", "--http-addr", analyticsAddr)
	mustWaitReady(t, api, analyticsAddr)
	if err := summaryTotal("http://"+analyticsAddr, 420); err != nil {
		t.Error(err)
	}
	for _, p := range []*testkit.Process{api, cons, ing, ns} {
		if err := p.MustStop(t, syscall.SIGTERM, stopTimeout); err != nil {
			t.Fatalf("exit: %v\n%s", err, p.Logs())
		}
	}
}
