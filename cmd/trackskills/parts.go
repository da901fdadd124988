package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/labstack/echo/v4"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills/analytics"
	"github.com/trackskills/trackskills/consumer"
	"github.com/trackskills/trackskills/embeddednats"
	"github.com/trackskills/trackskills/httpapi"
	"github.com/trackskills/trackskills/ingest"
	"github.com/trackskills/trackskills/sql"
)

const natsSummary = `Runs the embedded NATS server with JetStream alone (its store under
<data-dir>/nats) and declares the events stream, for the Procfile way.`

func runNATS(ctx context.Context, args []string, getenv func(string) string, _, stderr io.Writer) error {
	f := newCmdFlags("nats", natsSummary, getenv, stderr)
	var o options
	o.log.register(f)
	o.registerDataDir(f)
	o.registerNATSServer(f)
	o.registerStream(f)
	o.registerShutdown(f)
	logger, err := o.parse(f, args, stderr)
	if err != nil {
		return err
	}
	ncfg, err := o.natsConfig()
	if err != nil {
		return err
	}
	ns, err := embeddednats.Start(ncfg, logger.With("component", "nats"))
	if err != nil {
		return err
	}
	nc, err := ns.Connect("trackskills-nats")
	if err == nil {
		var js jetstream.JetStream
		if js, err = newJetStream(nc); err == nil {
			err = ensureStream(ctx, js, o.stream, logger)
		}
	}
	if err == nil {
		logger.Info("nats ready", "url", ns.ClientURL())
		<-ctx.Done()
	}
	closeErr := shutdownWithSignals(o.shutdownTimeout, logger, func(ctx context.Context) error {
		var errs []error
		if nc != nil {
			errs = append(errs, drainConn(ctx, nc))
		}
		return errors.Join(append(errs, ns.Shutdown(ctx))...)
	})
	return errors.Join(err, closeErr)
}

const ingestSummary = `Runs the HTTP ingest endpoint alone (POST /api/track, /api/track/batch),
publishing to the NATS server at --nats-url. It declares the events stream.`

func runIngest(ctx context.Context, args []string, getenv func(string) string, _, stderr io.Writer) error {
	f := newCmdFlags("ingest", ingestSummary, getenv, stderr)
	var o options
	o.log.register(f)
	o.registerDataDir(f)
	o.registerHTTP(f, "127.0.0.1:8080")
	o.registerNATSClient(f)
	o.registerStream(f)
	o.registerShutdown(f)
	logger, err := o.parse(f, args, stderr)
	if err != nil {
		return err
	}
	icfg, err := o.ingestConfig()
	if err != nil {
		return err
	}
	key, err := ingest.LoadOrCreateKey(o.dataDir, getenv("TRACKSKILLS_HASH_KEY"))
	if err != nil {
		return err
	}
	nc, err := connectNATS(o.natsURL, "trackskills-ingest", logger)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := newJetStream(nc)
	if err != nil {
		return err
	}
	if err := ensureStream(ctx, js, o.stream, logger); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	srv := ingest.New(icfg, js, key, logger.With("component", "ingest"))
	hs, err := httpapi.Listen(o.httpAddr, srv.Handler())
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve() }()
	logger.Info("ingest listening", "url", hs.URL(), "nats", o.natsURL, "keys", len(icfg.Keys))
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-served:
	}
	return errors.Join(runErr, shutdownWithSignals(o.shutdownTimeout, logger, func(ctx context.Context) error {
		// The HTTP server first: its requests finish their publishes.
		return errors.Join(hs.Shutdown(ctx), srv.Shutdown(ctx), drainConn(ctx, nc))
	}))
}

const consumerSummary = `Runs the consumer alone: reads the events stream from --nats-url in
batches, writes each batch to SQLite in one transaction, then acknowledges it.`

func runConsumer(ctx context.Context, args []string, getenv func(string) string, _, stderr io.Writer) error {
	f := newCmdFlags("consumer", consumerSummary, getenv, stderr)
	var o options
	var healthAddr string
	o.log.register(f)
	o.registerData(f)
	o.registerNATSClient(f)
	o.registerConsumer(f)
	o.registerShutdown(f)
	f.StringVar(&healthAddr, "health-addr", "", "optional HTTP address for /healthz and /readyz (empty = none)")
	logger, err := o.parse(f, args, stderr)
	if err != nil {
		return err
	}
	db, err := sql.Open(ctx, o.dbPath(), migrationLog(logger))
	if err != nil {
		return err
	}
	defer db.Close()
	nc, err := connectNATS(o.natsURL, "trackskills-consumer", logger)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := newJetStream(nc)
	if err != nil {
		return err
	}
	cons, err := consumer.New(o.consumer, js, db, logger.With("component", "consumer"))
	if err != nil {
		return err
	}
	var health *httpapi.Server
	if healthAddr != "" {
		if health, err = startHealth(healthAddr, logger, db, cons); err != nil {
			return err
		}
	}
	cctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cons.Run(cctx) }()
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-done:
		done <- runErr
	}
	return errors.Join(runErr, shutdownWithSignals(o.shutdownTimeout, logger, func(ctx context.Context) error {
		var errs []error
		if health != nil {
			errs = append(errs, health.Shutdown(ctx))
		}
		stop()
		select {
		case <-done:
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("wait for consumer: %w", ctx.Err()))
		}
		errs = append(errs, drainConn(ctx, nc), db.Close())
		return errors.Join(errs...)
	}))
}

// startHealth serves /healthz and /readyz for the consumer process.
func startHealth(addr string, logger *slog.Logger, db *sql.DB, cons *consumer.Consumer) (*httpapi.Server, error) {
	e := httpapi.NewEcho(logger, echo.ExtractIPDirect())
	httpapi.RegisterHealth(e,
		httpapi.Check{Name: "database", Fn: db.Ping},
		httpapi.Check{Name: "consumer", Fn: func(context.Context) error {
			if !cons.Ready() {
				return errors.New("not attached to the stream")
			}
			return nil
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

const analyticsSummary = `Runs the analytics API alone (GET /analytics/...), reading the SQLite
file that the consumer writes, read-only.`

func runAnalytics(ctx context.Context, args []string, getenv func(string) string, _, stderr io.Writer) error {
	f := newCmdFlags("analytics", analyticsSummary, getenv, stderr)
	var o options
	o.log.register(f)
	o.registerData(f)
	f.StringVar(&o.httpAddr, "http-addr", "127.0.0.1:8081", "HTTP listen address (host:port)")
	f.BoolVar(&o.allowNoKeys, "allow-no-keys", false, "allow an HTTP address beyond loopback without read keys (anyone who can reach it can read the analytics)")
	o.registerAnalytics(f)
	f.StringVar(&o.natsURL, "nats-url", "nats://127.0.0.1:4222", "NATS server(s) whose stream feeds the dashboard's live mode (GET /analytics/live), comma-separated; empty turns live mode off")
	o.registerShutdown(f)
	logger, err := o.parse(f, args, stderr)
	if err != nil {
		return err
	}
	acfg, err := o.analyticsConfig()
	if err != nil {
		return err
	}
	// The consumer creates the schema; wait for it (Procfile start order).
	db, err := sql.OpenReadOnly(ctx, o.dbPath())
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer db.Close()
	e := httpapi.NewEcho(logger.With("component", "analytics"), echo.ExtractIPDirect())
	httpapi.RegisterHealth(e, httpapi.Check{Name: "database", Fn: db.Ping})
	api := analytics.New(acfg, db, logger.With("component", "analytics"))
	var live *analytics.Live
	if o.natsURL != "" {
		// Live mode only reads: it waits for NATS in the background.
		nc, err := connectNATS(o.natsURL, "trackskills-analytics-live", logger)
		if err != nil {
			return err
		}
		defer nc.Close()
		live = analytics.NewLive(analytics.LiveConfig{}, nc, logger.With("component", "live"))
		api.SetLive(live)
	}
	if err := api.Register(e); err != nil {
		return err
	}
	srv, err := httpapi.Listen(o.httpAddr, e)
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	logger.Info("analytics listening", "url", srv.URL(), "db", o.dbPath(), "keys", len(acfg.ReadKeys))
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-served:
	}
	return errors.Join(runErr, shutdownWithSignals(o.shutdownTimeout, logger, func(ctx context.Context) error {
		if live != nil {
			live.Close() // live responses never go idle by themselves
		}
		return srv.Shutdown(ctx)
	}))
}
