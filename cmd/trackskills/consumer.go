package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/labstack/echo/v4"

	"github.com/trackskills/trackskills/embeddednats"
	"github.com/trackskills/trackskills/httpapi"
	"github.com/trackskills/trackskills/lockfile"
	"github.com/trackskills/trackskills/metrics"
)

const consumerSummary = `Runs the consumer alone: reads the events stream from --nats-url in
batches, writes each batch to SQLite in one transaction, then acknowledges it.
It reads the durable consumer the database names (trackskills status shows
it), so that consumers of two databases never share one. A second consumer
of the same database refuses to start; with --standby it waits instead and
takes over when the first goes (the first's unacknowledged events come back
after --ack-wait).`

func runConsumer(ctx context.Context, args []string, getenv func(string) string, _, stderr io.Writer) error {
	f := newCmdFlags("consumer", consumerSummary, getenv, stderr)
	o := defaultOptions()
	o.log.register(f)
	o.registerData(f)
	o.registerNATSClient(f)
	o.registerConsumer(f)
	o.registerShutdown(f)
	o.registerMetrics(f)
	f.StringVar(&o.healthAddr, "health-addr", o.healthAddr, "optional HTTP address for /healthz and /readyz (empty = none)")
	f.BoolVar(&o.consumer.Standby, "standby", false, "when another consumer holds the database or reads its durable, wait and take over when it goes, instead of refusing")
	logger, err := o.parse(f, args, stderr)
	if err != nil {
		return err
	}
	var lock *lockfile.Lock
	if o.consumer.Standby {
		if lock, err = o.awaitDBLock(ctx, logger); ctx.Err() != nil {
			return nil // stopped while standing by: nothing was started
		}
	} else {
		lock, err = o.lockDB()
	}
	if err != nil {
		return err
	}
	defer lock.Close() // last, after SQLite is closed
	auth, err := o.natsAuth(embeddednats.UserConsumer)
	if err != nil {
		return err
	}
	nc, js, err := connectJetStream(o.natsURL, "trackskills-consumer", logger, auth...)
	if err != nil {
		return err
	}
	defer nc.Close()
	reg := metrics.New()
	var w *dbWriter
	if err := writerMetrics(reg, &o, js, func() *dbWriter { return w }); err != nil {
		return err
	}
	if w, err = newDBWriter(ctx, &o, js, logger); err != nil {
		return err
	}
	defer w.Close()
	ms, err := startMetrics(o.metrics, reg, logger)
	if err != nil {
		return err
	}
	var health *httpapi.Server
	if o.healthAddr != "" {
		if health, err = startHealth(o.healthAddr, logger, w); err != nil {
			return err
		}
	}
	cctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(cctx) }()
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-done:
		done <- runErr
	}
	return errors.Join(runErr, shutdownWithSignals(o.shutdownTimeout, logger, func(ctx context.Context) error {
		errs := []error{shutdownMetrics(ctx, ms)}
		if health != nil {
			errs = append(errs, health.Shutdown(ctx))
		}
		stop()
		select {
		case <-done:
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("wait for consumer: %w", ctx.Err()))
		}
		errs = append(errs, drainConn(ctx, nc), w.Close())
		return errors.Join(errs...)
	}))
}

// startHealth serves /healthz and /readyz for the consumer process.
func startHealth(addr string, logger *slog.Logger, w *dbWriter) (*httpapi.Server, error) {
	e := httpapi.NewEcho(logger, echo.ExtractIPDirect())
	httpapi.RegisterHealth(e,
		httpapi.Check{Name: "database", Fn: w.Ping},
		httpapi.Check{Name: "consumer", Fn: func(context.Context) error {
			if !w.Ready() {
				return errors.New("not attached to the stream")
			}
			return w.WriteErr()
		}})
	srv, err := httpapi.Listen(addr, e)
	if err != nil {
		return nil, err
	}
	go func() {
		if err := srv.Serve(); err != nil {
			logger.Error("health server", "err", err)
		}
	}()
	return srv, nil
}
