package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/trackskills/trackskills/consumer"
	"github.com/trackskills/trackskills/ingest"
	"github.com/trackskills/trackskills/sql"
)

const consumerSummary = `Runs the consumer alone: reads the events stream from --nats-url in
batches, writes each batch to SQLite in one transaction, then acknowledges it.`

func runConsumer(ctx context.Context, args []string, getenv func(string) string, _, stderr io.Writer) error {
	f := newCmdFlags("consumer", consumerSummary, getenv, stderr)
	o := defaultOptions()
	o.log.register(f)
	o.registerData(f)
	o.registerNATSClient(f)
	o.registerConsumer(f)
	o.registerShutdown(f)
	f.StringVar(&o.healthAddr, "health-addr", o.healthAddr, "optional HTTP address for /healthz and /readyz (empty = none)")
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
	var health *http.Server
	if o.healthAddr != "" {
		if health, err = startHealth(o.healthAddr, logger, db, cons); err != nil {
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
func startHealth(addr string, logger *slog.Logger, db *sql.DB, cons *consumer.Consumer) (*http.Server, error) {
	e := ingest.NewEcho(logger, echo.ExtractIPDirect())
	e.GET("/healthz", func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"status": "ok"}) })
	e.GET("/readyz", func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
		defer cancel()
		checks, status := map[string]string{"database": "ok", "consumer": "ok"}, http.StatusOK
		if err := db.Ping(ctx); err != nil {
			checks["database"], status = err.Error(), http.StatusServiceUnavailable
		}
		if !cons.Ready() {
			checks["consumer"], status = "not attached to the stream", http.StatusServiceUnavailable
		}
		return c.JSON(status, map[string]any{"ready": status == http.StatusOK, "checks": checks})
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("health server", "err", err)
		}
	}()
	return srv, nil
}
