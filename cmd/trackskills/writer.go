package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills/consumer"
	"github.com/trackskills/trackskills/rebuild"
	"github.com/trackskills/trackskills/sql"
)

// rebuildPoll is how often the owner of a database looks for a rebuild
// ready to adopt.
const rebuildPoll = time.Second

// dbWriter is the writing side of a database, as serve and consumer run
// it: the writer handle and the consumer that fills it. Between two
// batches it adopts a rebuild that `trackskills rebuild` made ready: it
// stops the consumer, closes the writer, lets rebuild.Adopt put the new
// file in place, and starts again on it. The caller holds the database's
// lock throughout.
type dbWriter struct {
	path   string
	cfg    consumer.Config
	js     jetstream.JetStream
	logger *slog.Logger
	open   func(ctx context.Context) (*sql.DB, error)

	mu   sync.RWMutex
	db   *sql.DB
	cons *consumer.Consumer
}

// newDBWriter opens the database at o.dbPath() for writing.
func newDBWriter(ctx context.Context, o *options, js jetstream.JetStream, logger *slog.Logger) (*dbWriter, error) {
	w := &dbWriter{
		path: o.dbPath(), cfg: o.consumer, js: js, logger: logger,
		open: func(ctx context.Context) (*sql.DB, error) {
			return sql.Open(ctx, o.dbPath(), o.writerOptions(logger)...)
		},
	}
	if err := w.reopen(ctx); err != nil {
		return nil, err
	}
	return w, nil
}

// reopen opens the database and a consumer for it.
func (w *dbWriter) reopen(ctx context.Context) error {
	db, err := w.open(ctx)
	if err != nil {
		return err
	}
	cons, err := consumer.New(w.cfg, w.js, db, w.logger.With("component", "consumer"))
	if err != nil {
		_ = db.Close() // the config error is the one to report
		return err
	}
	w.mu.Lock()
	w.db, w.cons = db, cons
	w.mu.Unlock()
	return nil
}

// DB returns the writer handle of the moment.
func (w *dbWriter) DB() *sql.DB {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.db
}

// Consumer returns the consumer of the moment.
func (w *dbWriter) Consumer() *consumer.Consumer {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.cons
}

// Ping checks the database; it fails while a rebuild is being adopted.
func (w *dbWriter) Ping(ctx context.Context) error {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.db == nil {
		return errors.New("switching to a rebuilt database")
	}
	return w.db.Ping(ctx)
}

// Ready reports whether the consumer reads the stream.
func (w *dbWriter) Ready() bool {
	c := w.Consumer()
	return c != nil && c.Ready()
}

// WriteErr returns why the consumer cannot write to the database while
// that is so ("cannot write: ..."), or nil.
func (w *dbWriter) WriteErr() error {
	if c := w.Consumer(); c != nil {
		return c.WriteErr()
	}
	return nil
}

// Run runs the consumer until ctx ends (then it writes and acknowledges
// what it holds, and Run returns nil) or it fails; a rebuild made ready
// meanwhile, or before, is adopted between two batches.
func (w *dbWriter) Run(ctx context.Context) error {
	for {
		cctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		cons := w.Consumer()
		go func() { done <- cons.Run(cctx) }()
		adopt := false
		tick := time.NewTicker(rebuildPoll)
	wait:
		for {
			if rebuild.Pending(w.path) {
				adopt = true
				break wait
			}
			select {
			case err := <-done:
				stop()
				tick.Stop()
				return err
			case <-tick.C:
			}
		}
		tick.Stop()
		stop()
		if err := <-done; err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
		if adopt {
			if err := w.adopt(ctx); err != nil {
				return err
			}
		}
	}
}

// adopt switches to the rebuilt database with the consumer stopped. When
// the adoption fails, the live database is reopened as it was and the
// consumer goes on with it; only a database that cannot be opened again
// stops Run.
func (w *dbWriter) adopt(ctx context.Context) error {
	w.mu.Lock()
	old := w.db
	w.db, w.cons = nil, nil
	w.mu.Unlock()
	if err := old.Close(); err != nil {
		w.logger.Error("close the database before adopting a rebuild", "err", err)
	}
	w.logger.Info("adopting a rebuilt database", "db", w.path, "rebuild", rebuild.Target(w.path))
	// A signal now must not cut the switch short: the final replay holds
	// what arrived since the build, seconds of events.
	ctx = context.WithoutCancel(ctx)
	kept, st, err := rebuild.Adopt(ctx, w.js, w.path, w.logger.With("component", "rebuild"))
	if err != nil {
		w.logger.Error("rebuild not adopted: carrying on with the live database", "err", err)
	} else {
		w.logger.Info("rebuilt database adopted", "db", w.path, "old_kept_as", kept,
			"caught_up_messages", st.Messages, "caught_up_inserted", st.Inserted)
	}
	if err := w.reopen(ctx); err != nil {
		return fmt.Errorf("reopen the database after a rebuild: %w", err)
	}
	return nil
}

// Close closes the database.
func (w *dbWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.db == nil {
		return nil
	}
	err := w.db.Close()
	w.db = nil
	return err
}
