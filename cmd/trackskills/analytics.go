package main

import (
	"context"
	"errors"
	"io"

	"github.com/labstack/echo/v4"

	"github.com/trackskills/trackskills/analytics"
	"github.com/trackskills/trackskills/embeddednats"
	"github.com/trackskills/trackskills/httpapi"
	"github.com/trackskills/trackskills/ingest"
	"github.com/trackskills/trackskills/metrics"
	"github.com/trackskills/trackskills/sql"
)

const analyticsSummary = `Runs the analytics API alone (GET /analytics/...), reading the SQLite
file that the consumer writes, read-only.`

func runAnalytics(ctx context.Context, args []string, getenv func(string) string, _, stderr io.Writer) error {
	f := newCmdFlags("analytics", analyticsSummary, getenv, stderr)
	o := defaultOptions()
	o.httpAddr = "127.0.0.1:8081" // beside ingest's 8080, the Procfile way
	o.log.register(f)
	o.registerData(f)
	f.StringVar(&o.httpAddr, "http-addr", o.httpAddr, "HTTP listen address (host:port)")
	f.BoolVar(&o.allowNoKeys, "allow-no-keys", o.allowNoKeys, "allow an HTTP address beyond loopback without read keys (anyone who can reach it can read the analytics)")
	o.registerAnalytics(f)
	f.StringVar(&o.natsURL, "nats-url", o.natsURL, "NATS server(s) whose stream feeds the dashboard's live mode (GET /analytics/live) and the pipeline's consumer lag (GET /analytics/pipeline), comma-separated; empty turns both off")
	o.registerNATSCreds(f)
	o.registerShutdown(f)
	var ao alertOptions
	ao.register(f)
	o.registerMetrics(f)
	logger, err := o.parse(f, args, stderr)
	if err != nil {
		return err
	}
	if err := ao.load(getenv); err != nil {
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
	hosts, err := o.hostAuth()
	if err != nil {
		return err
	}
	ipx := echo.ExtractIPDirect()
	if proxies, err := o.proxies(); err != nil {
		return err
	} else if len(proxies) > 0 {
		ipx = ingest.IPExtractor(proxies) // live slots are counted by client
	}
	e := httpapi.NewEcho(logger.With("component", "analytics"), ipx)
	reg := metrics.New()
	e.Use(reg.Middleware(metrics.Part("analytics")), httpapi.RequireHost(hosts))
	httpapi.RegisterHealth(e, httpapi.Check{Name: "database", Fn: db.Ping})
	api := analytics.New(acfg, db, logger.With("component", "analytics"))
	var live *analytics.Live
	if o.natsURL != "" {
		// Live mode only reads: it waits for NATS in the background.
		auth, err := o.natsAuth(embeddednats.UserAnalytics)
		if err != nil {
			return err
		}
		nc, err := connectNATS(o.natsURL, "trackskills-analytics-live", logger, auth...)
		if err != nil {
			return err
		}
		defer nc.Close()
		live = analytics.NewLive(analytics.LiveConfig{}, nc, logger.With("component", "live"))
		api.SetLive(live)
		if err := reg.RegisterLive(live.Clients); err != nil {
			return err
		}
		if err := setPipelineStream(api, nc); err != nil {
			return err
		}
	}
	if err := api.Register(e); err != nil {
		return err
	}
	mountMetrics(e, o.metrics, reg, api.RequireReadKey())
	hup, stopHup := notifyHangup()
	defer stopHup()
	srv, err := httpapi.Listen(o.httpAddr, e)
	if err != nil {
		return err
	}
	stopAlerts, err := ao.start(ctx, db, logger)
	if err != nil {
		return errors.Join(err, srv.Shutdown(context.Background()))
	}
	defer stopAlerts() // before the database it reads closes
	ms, err := startMetrics(o.metrics, reg, logger)
	if err != nil {
		return errors.Join(err, srv.Shutdown(context.Background()))
	}
	go reloadKeys(ctx, hup, logger, keyFile{"read-keys", o.readKeys, api.ReplaceReadKeys})
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
		api.Close() // nor does an export to a client that stopped reading
		return errors.Join(shutdownMetrics(ctx, ms), srv.Shutdown(ctx))
	}))
}
