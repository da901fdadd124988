package embeddednats

import (
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// A write error of the file store is sticky: after a full disk (ENOSPC)
// nats-server refuses every write to the stream, even once space is back,
// until JetStream loads the stream from disk again; and when it finds
// itself out of resources it turns JetStream off. Either way only a restart
// used to bring ingest back. The Server watches its log for those errors
// and, once the store's file system has room again, restarts JetStream in
// place: streams and durables load again from disk, and clients stay
// connected (their requests fail meanwhile, and are retried).

// storeRoom is the free space the store's file system needs before
// JetStream is restarted after a write error.
const storeRoom = 8 << 20

// storeCheckEvery is how often a broken store looks for room again.
const storeCheckEvery = time.Second

// storeBroken reports whether a log line of nats-server says the store
// can no longer be written (a sticky write error, or JetStream turned off
// for want of resources).
func storeBroken(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "critical write error") || strings.Contains(m, "will be disabled")
}

// watchStore restarts JetStream after each report on broken (the logger
// sends one when storeBroken), once the store has room, until stop closes.
func (s *Server) watchStore(broken <-chan struct{}, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-broken:
		}
		s.logger.Warn("the JetStream store cannot be written; it restarts once its disk has room", "store_dir", s.opts.StoreDir, "room_needed", storeRoom)
		for {
			select {
			case <-stop:
				return
			case <-time.After(storeCheckEvery):
			}
			if free, known := freeBytes(s.opts.StoreDir); known && free < storeRoom {
				continue
			}
			if err := s.restartJetStream(); err != nil {
				s.logger.Error("restart JetStream", "err", err)
				continue
			}
			s.logger.Info("JetStream restarted: its store has room again", "store_dir", s.opts.StoreDir)
			select {
			case <-broken: // reported before the restart: nothing new
			default:
			}
			break
		}
	}
}

// restartJetStream turns JetStream off and on again with the options it
// started with, as nats-server does when a reload finds it disabled.
func (s *Server) restartJetStream() error {
	if err := s.ns.ShutdownJetStream(); err != nil {
		return fmt.Errorf("shut down jetstream: %w", err)
	}
	o := s.opts
	cfg := &server.JetStreamConfig{
		StoreDir:     o.StoreDir,
		SyncInterval: o.SyncInterval,
		SyncAlways:   o.SyncAlways,
		Strict:       !o.NoJetStreamStrict,
		MaxMemory:    o.JetStreamMaxMemory,
		MaxStore:     o.JetStreamMaxStore,
		Domain:       o.JetStreamDomain,
		CompressOK:   true,
	}
	if err := s.ns.EnableJetStream(cfg); err != nil {
		return fmt.Errorf("enable jetstream: %w", err)
	}
	return nil
}
