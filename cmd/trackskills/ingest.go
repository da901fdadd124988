package main

import (
	"context"
	"errors"
	"io"

	"github.com/trackskills/trackskills/embeddednats"
	"github.com/trackskills/trackskills/httpapi"
	"github.com/trackskills/trackskills/ingest"
	"github.com/trackskills/trackskills/metrics"
)

const ingestSummary = `Runs the HTTP ingest endpoint alone (POST /api/track, /api/track/batch),
publishing to the NATS server at --nats-url. It declares the events stream.`

func runIngest(ctx context.Context, args []string, getenv func(string) string, _, stderr io.Writer) error {
	f := newCmdFlags("ingest", ingestSummary, getenv, stderr)
	o := defaultOptions()
	o.log.register(f)
	o.registerDataDir(f)
	o.registerHTTP(f)
	o.registerNATSClient(f)
	o.registerStream(f)
	o.registerShutdown(f)
	o.registerMetrics(f)
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
	auth, err := o.natsAuth(embeddednats.UserIngest)
	if err != nil {
		return err
	}
	nc, js, err := connectJetStream(o.natsURL, "trackskills-ingest", logger, auth...)
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := ensureStream(ctx, js, o.stream, logger); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	reg := metrics.New()
	if err := ingestMetrics(reg, &icfg); err != nil {
		return err
	}
	if err := reg.RegisterStream(js, nil); err != nil {
		return err
	}
	srv := ingest.New(icfg, js, key, logger.With("component", "ingest"))
	hup, stopHup := notifyHangup()
	defer stopHup()
	hs, err := httpapi.Listen(o.httpAddr, srv.Handler(reg.Middleware(metrics.Part("ingest"))))
	if err != nil {
		return err
	}
	ms, err := startMetrics(o.metrics, reg, logger)
	if err != nil {
		return errors.Join(err, hs.Shutdown(ctx))
	}
	go reloadKeys(ctx, hup, logger, keyFile{"ingest-keys", o.ingestKeys, srv.ReplaceKeys})
	served := make(chan error, 1)
	go func() { served <- hs.Serve() }()
	logger.Info("ingest listening", "url", hs.URL(), "nats", redactURLs(o.natsURL), "keys", len(icfg.Keys))
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-served:
	}
	return errors.Join(runErr, shutdownWithSignals(o.shutdownTimeout, logger, func(ctx context.Context) error {
		// The HTTP server first: its requests finish their publishes.
		return errors.Join(shutdownMetrics(ctx, ms), hs.Shutdown(ctx), srv.Shutdown(ctx), drainConn(ctx, nc))
	}))
}
