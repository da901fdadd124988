package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills/consumer"
	"github.com/trackskills/trackskills/httpapi"
	"github.com/trackskills/trackskills/ingest"
	"github.com/trackskills/trackskills/metrics"
	"github.com/trackskills/trackskills/sql"
)

// metricsPath is where every process serves its Prometheus metrics.
const metricsPath = "/metrics"

// metricsOptions are the flags of /metrics.
type metricsOptions struct {
	addr        string // a listener of /metrics alone; empty: the HTTP port (serve, analytics) or none
	allowRemote bool   // let addr be beyond loopback
}

// registerMetrics registers --metrics-addr and --allow-remote-metrics.
func (o *options) registerMetrics(f *cmdFlags) {
	f.StringVar(&o.metrics.addr, "metrics-addr", o.metrics.addr, "serve "+metricsPath+" (Prometheus) without a key on a listener of its own at this address (host:port; a bare :port is 127.0.0.1). "+
		"Empty: serve and analytics serve it on --http-addr behind the read keys; ingest, consumer and nats serve none")
	f.BoolVar(&o.metrics.allowRemote, "allow-remote-metrics", o.metrics.allowRemote, "allow --metrics-addr beyond loopback (anyone who can reach it can read the metrics, which hold no event data)")
}

// metricsAddr returns --metrics-addr with a bare :port bound to loopback,
// and checks it.
func (m metricsOptions) metricsAddr() (string, error) {
	if m.addr == "" {
		return "", nil
	}
	addr := m.addr
	if strings.HasPrefix(addr, ":") {
		addr = "127.0.0.1" + addr
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return "", fmt.Errorf("metrics address %q: want host:port", m.addr)
	}
	if !isLoopback(addr) && !m.allowRemote {
		return "", fmt.Errorf("metrics address %s is reachable beyond this machine and serves %s without a key: bind it to 127.0.0.1, pass --allow-remote-metrics, "+
			"or leave it empty to serve %s on the HTTP port behind the read keys (serve, analytics)", m.addr, metricsPath, metricsPath)
	}
	return addr, nil
}

// startMetrics serves /metrics of reg alone on --metrics-addr, unguarded;
// with no --metrics-addr it returns nil and serves nothing.
func startMetrics(m metricsOptions, reg *metrics.Registry, logger *slog.Logger) (*httpapi.Server, error) {
	addr, err := m.metricsAddr()
	if err != nil || addr == "" {
		return nil, err
	}
	logger = logger.With("component", "metrics")
	e := httpapi.NewEcho(logger, echo.ExtractIPDirect())
	e.Use(reg.Middleware(metrics.Part("metrics")))
	e.GET(metricsPath, echo.WrapHandler(reg.Handler()))
	srv, err := httpapi.Listen(addr, e)
	if err != nil {
		return nil, err
	}
	go func() {
		if err := srv.Serve(); err != nil {
			logger.Error("metrics server", "err", err)
		}
	}()
	logger.Info("metrics listening", "url", srv.URL()+metricsPath)
	return srv, nil
}

// shutdownMetrics stops the listener of startMetrics, if any.
func shutdownMetrics(ctx context.Context, srv *httpapi.Server) error {
	if srv == nil {
		return nil
	}
	return srv.Shutdown(ctx)
}

// mountMetrics adds /metrics to the main echo of serve or analytics,
// behind guard (the read keys), unless --metrics-addr takes it elsewhere.
func mountMetrics(e *echo.Echo, m metricsOptions, reg *metrics.Registry, guard echo.MiddlewareFunc) {
	if m.addr != "" {
		return
	}
	e.GET(metricsPath, echo.WrapHandler(reg.Handler()), guard)
}

// servePart names the part of serve that answers a route, for the HTTP
// metrics.
func servePart(route string) string {
	switch {
	case strings.HasPrefix(route, "/api/"):
		return "ingest"
	case route == "/" || strings.HasPrefix(route, "/analytics") || strings.HasPrefix(route, "/static"):
		return "analytics"
	}
	return "serve" // health, /metrics, and what matched no route
}

// ingestMetrics registers the ingest metrics on reg and hooks cfg to them.
func ingestMetrics(reg *metrics.Registry, cfg *ingest.Config) error {
	m, err := reg.RegisterIngest(ingest.RejectReasons)
	if err != nil {
		return err
	}
	cfg.Hooks = ingest.Hooks{Accepted: m.Accepted, Rejected: m.Rejected}
	cfg.Publisher.OnPublish = m.Published
	return nil
}

// writerMetrics registers the metrics of the consumer, its stream and its
// database on reg, and hooks o.consumer to them: call it before
// newDBWriter. writer returns the writer once it exists (nil before);
// js reads the stream and the durable.
func writerMetrics(reg *metrics.Registry, o *options, js jetstream.JetStream, writer func() *dbWriter) error {
	m, err := reg.RegisterConsumer(func() (metrics.ConsumerStats, bool) {
		w := writer()
		if w == nil {
			return metrics.ConsumerStats{}, false
		}
		c := w.Consumer()
		if c == nil {
			return metrics.ConsumerStats{}, false // a rebuild is being adopted
		}
		st := c.Stats()
		return metrics.ConsumerStats{
			Ready: c.Ready(), Batches: st.Batches, Messages: st.Messages, Inserted: st.Inserted,
			Ignored: st.Ignored, DeadLetters: st.DeadLetters, Failures: st.Failures,
		}, true
	})
	if err != nil {
		return err
	}
	o.consumer.Hooks = &consumer.Hooks{Committed: m.Committed}
	// The durable's name is the database's: read once per database, not
	// at every scrape (the writer has one connection).
	var mu sync.Mutex
	var named *sql.DB
	var name string
	durable := func(ctx context.Context) (string, error) {
		if o.consumer.Durable != "" {
			return o.consumer.Durable, nil
		}
		w := writer()
		if w == nil {
			return "", errors.New("no database yet")
		}
		db := w.DB()
		if db == nil {
			return "", errors.New("switching to a rebuilt database")
		}
		mu.Lock()
		defer mu.Unlock()
		if db != named {
			id, err := db.Identity(ctx)
			if err != nil {
				return "", err
			}
			named, name = db, id.Durable
		}
		return name, nil
	}
	if err := reg.RegisterStream(js, durable); err != nil {
		return err
	}
	return reg.RegisterDatabase(o.dbPath())
}

// natsMetrics serves the stream's metrics of `trackskills nats` on
// --metrics-addr, once the process has started without an error (err).
func natsMetrics(err error, m metricsOptions, js jetstream.JetStream, logger *slog.Logger) (*httpapi.Server, error) {
	if err != nil || m.addr == "" {
		return nil, err
	}
	reg := metrics.New()
	if err := reg.RegisterStream(js, nil); err != nil {
		return nil, err
	}
	return startMetrics(m, reg, logger)
}
