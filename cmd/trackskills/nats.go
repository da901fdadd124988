package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills/consumer"
	"github.com/trackskills/trackskills/embeddednats"
	"github.com/trackskills/trackskills/httpapi"
)

const natsSummary = `Runs the embedded NATS server with JetStream alone (its store under
<data-dir>/nats) and declares the events stream, for the Procfile way. It owns
the stream's limits (the --stream-* flags given here apply as they are; ingest
only tightens them) and trims the history the consumer has stored when the
stream or the store passes --stream-trim-high.

Scale-out: with --cluster-name, --cluster-addr, --routes and --server-name,
three of them form a JetStream cluster (give --stream-replicas 3); with
--leaf-listen it is a hub that leaf nodes connect to, and --leaf-domains names
the leaf nodes whose streams its stream sources from; with --leaf-remote and
--jetstream-domain it is a leaf node (an office, a region) that keeps
accepting events while its link to the hub is down. See docs/DEPLOY.md.`

func runNATS(ctx context.Context, args []string, getenv func(string) string, _, stderr io.Writer) error {
	f := newCmdFlags("nats", natsSummary, getenv, stderr)
	o := defaultOptions()
	o.log.register(f)
	o.registerDataDir(f)
	o.registerNATSServer(f)
	o.registerStream(f)
	o.registerTrim(f)
	o.registerShutdown(f)
	o.registerMetrics(f)
	var sc scaleOptions
	sc.register(f)
	logger, err := o.parse(f, args, stderr)
	if err != nil {
		return err
	}
	o.stream.Owner = true
	ncfg, err := o.natsConfig()
	if err != nil {
		return err
	}
	if err := sc.apply(&o, &ncfg, f.given("leaf-domains")); err != nil {
		return err
	}
	if ncfg.Addr == "" {
		return fmt.Errorf("--nats-addr %s: the parts of the Procfile way reach NATS through its port; only serve runs without one", natsNoPort)
	}
	lock, err := o.lockNATSStore()
	if err != nil {
		return err
	}
	defer lock.Close() // last, after NATS has shut down
	ns, err := embeddednats.Start(ctx, ncfg, logger.With("component", "nats"))
	if err != nil {
		return err
	}
	nc, err := ns.Connect("trackskills-nats")
	var js jetstream.JetStream
	if err == nil {
		if js, err = newJetStream(nc); err == nil {
			err = ensureStream(ctx, js, o.stream, logger)
		}
	}
	// Stopped while it waited for its cluster to declare the stream:
	// nothing failed.
	stopped := err != nil && ctx.Err() != nil
	if stopped {
		logger.Info("stopped before the stream was declared", "err", err)
		err = nil
	}
	var trimmer *consumer.Trimmer
	if err == nil && !stopped {
		trimmer, err = consumer.NewTrimmer(js, o.trim, logger.With("component", "trim"))
	}
	var ms *httpapi.Server
	if !stopped {
		ms, err = natsMetrics(err, o.metrics, js, logger)
	}
	if err == nil && !stopped {
		logger.Info("nats ready", "url", ns.ClientURL(), "creds_dir", ncfg.CredsDir)
		if len(o.stream.Sources) > 0 {
			go watchLeafSources(ctx, ns, js, o.stream.Sources, logger.With("component", "sources"))
		}
		if len(ncfg.Leaf.Remotes) == 0 {
			trimmer.Run(ctx)
		} else {
			// A leaf node's stream has no SQLite consumer, only its
			// hub's source, which goes away while the link is down:
			// its history leaves by --stream-max-age alone, and when it
			// is full, the leaf's ingest answers 503.
			logger.Info("leaf node: the stream's history is not trimmed", "max_age", o.stream.MaxAge)
			<-ctx.Done()
		}
	}
	closeErr := shutdownWithSignals(o.shutdownTimeout, logger, func(ctx context.Context) error {
		errs := []error{shutdownMetrics(ctx, ms)}
		if nc != nil {
			errs = append(errs, drainConn(ctx, nc))
		}
		return errors.Join(append(errs, ns.Shutdown(ctx))...)
	})
	return errors.Join(err, closeErr)
}
