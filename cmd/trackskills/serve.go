package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/trackskills/trackskills/analytics"
	"github.com/trackskills/trackskills/consumer"
	"github.com/trackskills/trackskills/embeddednats"
	"github.com/trackskills/trackskills/httpapi"
	"github.com/trackskills/trackskills/ingest"
	"github.com/trackskills/trackskills/lockfile"
	"github.com/trackskills/trackskills/metrics"
	"github.com/trackskills/trackskills/sql"
)

const serveSummary = `Runs everything in one process: an embedded NATS server with JetStream
(stored under the data dir), the ingest endpoint, the consumer that writes
events to SQLite, and the analytics API, on one HTTP port. The parts talk
in-process, each logged in as its own NATS user; NATS still listens on
--nats-addr (loopback) so that replay, status and rebuild can reach the
stream, with the credentials that serve writes to <data-dir>/nats-creds on
first start. --nats-addr none opens no NATS port at all.`

func runServe(ctx context.Context, args []string, getenv func(string) string, _, stderr io.Writer) error {
	f := newCmdFlags("serve", serveSummary, getenv, stderr)
	o := defaultOptions()
	o.log.register(f)
	o.registerData(f)
	o.registerHTTP(f)
	o.registerAnalytics(f)
	o.registerNATSServer(f)
	o.registerStream(f)
	o.registerTrim(f)
	o.registerConsumer(f)
	o.registerShutdown(f)
	o.registerMetrics(f)
	f.StringVar(&o.cpuProfile, "cpu-profile", o.cpuProfile, "write a CPU profile of the whole run to this file (for benchmarks)")
	var ao alertOptions
	ao.register(f)
	logger, err := o.parse(f, args, stderr)
	if err != nil {
		return err
	}
	if err := ao.load(getenv); err != nil {
		return err
	}
	o.stream.Owner = true // serve runs the NATS server: its --stream-* flags apply as given
	if o.cpuProfile != "" {
		stopProfile, err := startCPUProfile(o.cpuProfile)
		if err != nil {
			return err
		}
		defer stopProfile()
	}
	hup, stopHup := notifyHangup()
	defer stopHup()
	app, err := startServe(ctx, &o, getenv, logger)
	if err != nil {
		return err
	}
	stopAlerts, err := ao.start(ctx, app.readDB, logger)
	if err != nil {
		return errors.Join(err, app.Close(context.Background()))
	}
	go reloadKeys(ctx, hup, logger, keyFile{"ingest-keys", o.ingestKeys, app.ingest.ReplaceKeys},
		keyFile{"read-keys", o.readKeys, app.api.ReplaceReadKeys})
	natsURL := app.nats.ClientURL()
	if natsURL == "" {
		natsURL = "in-process only"
	}
	logger.Info("serving", "url", app.URL(), "nats", natsURL, "db", o.dbPath())
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-app.failed:
	}
	return errors.Join(runErr, shutdownWithSignals(o.shutdownTimeout, logger, func(ctx context.Context) error {
		stopAlerts() // before the database it reads closes
		return app.Close(ctx)
	}))
}

// serveApp is `serve` while it runs; the end-to-end tests start it too.
type serveApp struct {
	logger     *slog.Logger
	nats       *embeddednats.Server
	nc         *nats.Conn // ingest's: it publishes and declares the stream
	consNC     *nats.Conn // the consumer's
	trimNC     *nats.Conn // the trimmer's, as admin: it purges consumed history
	stopTrim   context.CancelFunc
	trimDone   chan struct{}
	liveNC     *nats.Conn
	live       *analytics.Live
	writer     *dbWriter // the database and its consumer
	readDB     *sql.DB
	ingest     *ingest.Server
	api        *analytics.Server
	http       *httpapi.Server
	natsLock   *lockfile.Lock // the data dir's JetStream store
	dbLock     *lockfile.Lock // the SQLite file
	stopCons   context.CancelFunc
	consDone   chan error
	failed     chan error
	httpClosed chan struct{}

	metrics    *metrics.Registry
	metricsSrv *httpapi.Server // --metrics-addr
}

// startServe starts every part; the caller must Close the app.
func startServe(ctx context.Context, o *options, getenv func(string) string, logger *slog.Logger) (app *serveApp, err error) {
	icfg, err := o.ingestConfig()
	if err != nil {
		return nil, err
	}
	acfg, err := o.analyticsConfig()
	if err != nil {
		return nil, err
	}
	ncfg, err := o.natsConfig()
	if err != nil {
		return nil, err
	}
	app = &serveApp{logger: logger, failed: make(chan error, 2), consDone: make(chan error, 1), httpClosed: make(chan struct{}), metrics: metrics.New()}
	defer func() {
		if err != nil {
			_ = app.Close(context.Background()) // the start error is the one to report
		}
	}()
	// The locks come before anything is created: a second serve on the
	// same data dir or database refuses here and changes nothing.
	if app.natsLock, err = o.lockNATSStore(); err != nil {
		return app, err
	}
	if app.dbLock, err = o.lockDB(); err != nil {
		return app, err
	}
	key, err := ingest.LoadOrCreateKey(o.dataDir, getenv("TRACKSKILLS_HASH_KEY"))
	if err != nil {
		return app, err
	}
	if app.nats, err = embeddednats.Start(ctx, ncfg, logger.With("component", "nats")); err != nil {
		return app, err
	}
	// Each part logs in as its own user, with only its permissions.
	if app.nc, err = app.nats.ConnectAs(embeddednats.UserIngest, "trackskills-serve"); err != nil {
		return app, err
	}
	js, err := newJetStream(app.nc)
	if err != nil {
		return app, err
	}
	if app.consNC, err = app.nats.ConnectAs(embeddednats.UserConsumer, "trackskills-serve-consumer"); err != nil {
		return app, err
	}
	consJS, err := newJetStream(app.consNC)
	if err != nil {
		return app, err
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := ingest.DeclareStream(sctx, js, o.stream, logger); err != nil {
		return app, err
	}
	if app.trimNC, err = app.nats.Connect("trackskills-serve-trim"); err != nil {
		return app, err
	}
	trimJS, err := newJetStream(app.trimNC)
	if err != nil {
		return app, err
	}
	trimmer, err := consumer.NewTrimmer(trimJS, o.trim, logger.With("component", "trim"))
	if err != nil {
		return app, err
	}
	if err := ingestMetrics(app.metrics, &icfg); err != nil {
		return app, err
	}
	if err := writerMetrics(app.metrics, o, consJS, func() *dbWriter { return app.writer }); err != nil {
		return app, err
	}
	// No timeout: migrations may backfill a large database; a signal still stops them.
	if app.writer, err = newDBWriter(ctx, o, consJS, logger); err != nil {
		return app, err
	}
	app.ingest = ingest.New(icfg, js, key, logger.With("component", "ingest"))
	// Analytics gets its own read-only handle: the writer's has a single
	// connection, and WAL lets readers run alongside its transactions.
	if app.readDB, err = sql.OpenReadOnly(ctx, o.dbPath()); err != nil {
		return app, err
	}
	// Live mode has its own connection: a burst to the dashboard never
	// makes the server treat the publisher's connection as slow.
	if app.liveNC, err = app.nats.ConnectAs(embeddednats.UserAnalytics, "trackskills-live"); err != nil {
		return app, err
	}
	app.live = analytics.NewLive(analytics.LiveConfig{}, app.liveNC, logger.With("component", "live"))
	app.api = analytics.New(acfg, app.readDB, logger.With("component", "analytics"))
	app.api.SetLive(app.live)
	if err := app.metrics.RegisterLive(app.live.Clients); err != nil {
		return app, err
	}
	if err := setPipelineStream(app.api, app.liveNC); err != nil {
		return app, err
	}
	// Ingest and analytics side by side on one echo, each logging its own
	// requests; what neither serves (health, stray paths) logs as http.
	e := httpapi.NewEcho(logger.With("component", "http"), ingest.IPExtractor(icfg.TrustedProxies))
	e.Use(app.metrics.Middleware(servePart), httpapi.RequireHost(icfg.Hosts))
	app.ingest.Register(e)
	if err := app.api.Register(e); err != nil {
		return app, err
	}
	mountMetrics(e, o.metrics, app.metrics, app.api.RequireReadKey())
	httpapi.RegisterHealth(e, append(app.ingest.Checks(),
		httpapi.Check{Name: "database", Fn: app.writer.Ping},
		httpapi.Check{Name: "consumer", Fn: func(context.Context) error {
			if !app.writer.Ready() {
				return errors.New("consumer not attached")
			}
			return app.writer.WriteErr()
		}})...)
	if app.http, err = httpapi.Listen(o.httpAddr, e); err != nil {
		return app, err
	}
	if app.metricsSrv, err = startMetrics(o.metrics, app.metrics, logger); err != nil {
		return app, err
	}
	var cctx context.Context
	cctx, app.stopCons = context.WithCancel(context.Background())
	go func() {
		err := app.writer.Run(cctx)
		app.consDone <- err
		if err != nil {
			app.failed <- fmt.Errorf("consumer: %w", err)
		}
	}()
	var tctx context.Context
	tctx, app.stopTrim = context.WithCancel(context.Background())
	app.trimDone = make(chan struct{})
	go func() {
		defer close(app.trimDone)
		trimmer.Run(tctx)
	}()
	go func() {
		defer close(app.httpClosed)
		if err := app.http.Serve(); err != nil {
			app.failed <- err
		}
	}()
	return app, nil
}

// URL returns the base URL of the HTTP server.
func (a *serveApp) URL() string { return a.http.URL() }

// Close shuts down in order: stop the HTTP server (the requests in flight
// finish their publishes), close ingest's publisher, let the consumer
// commit and acknowledge its batch, drain the NATS connection, stop NATS,
// close SQLite, and last release the locks of the store and the database.
func (a *serveApp) Close(ctx context.Context) error {
	var errs []error
	if a.live != nil {
		a.live.Close() // live responses never go idle by themselves
	}
	if a.api != nil {
		a.api.Close() // nor does an export to a client that stopped reading
	}
	errs = append(errs, shutdownMetrics(ctx, a.metricsSrv))
	if a.http != nil {
		errs = append(errs, a.http.Shutdown(ctx))
		<-a.httpClosed
	}
	if a.ingest != nil {
		errs = append(errs, a.ingest.Shutdown(ctx))
	}
	if a.stopCons != nil {
		a.stopCons()
		select {
		case <-a.consDone:
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("wait for consumer: %w", ctx.Err()))
		}
	}
	if a.stopTrim != nil {
		a.stopTrim()
		<-a.trimDone
	}
	if a.trimNC != nil {
		a.trimNC.Close()
	}
	if a.liveNC != nil {
		a.liveNC.Close()
	}
	if a.consNC != nil {
		errs = append(errs, drainConn(ctx, a.consNC)) // the acks
	}
	if a.nc != nil {
		errs = append(errs, drainConn(ctx, a.nc))
	}
	if a.nats != nil {
		errs = append(errs, a.nats.Shutdown(ctx))
	}
	if a.readDB != nil {
		errs = append(errs, a.readDB.Close())
	}
	if a.writer != nil {
		errs = append(errs, a.writer.Close())
	}
	// Nil locks close as no-ops.
	errs = append(errs, a.dbLock.Close(), a.natsLock.Close())
	return errors.Join(errs...)
}

// startCPUProfile profiles the process into path until the returned
// function is called.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close() // the start error is the one to report
		return nil, fmt.Errorf("start cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close() // a profile that fails to close is only a lost profile
	}, nil
}
