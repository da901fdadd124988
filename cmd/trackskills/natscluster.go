package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/embeddednats"
	"github.com/trackskills/trackskills/ingest"
)

// scaleOptions are the flags of `trackskills nats` that make it one
// server of a cluster, a hub of leaf nodes or a leaf node.
type scaleOptions struct {
	serverName  string
	domain      string
	clusterName string
	clusterAddr string
	routes      []string
	leafListen  string
	leafRemotes []string
	leafCreds   string
	leafDomains []string
}

// register registers the cluster and leaf node flags.
func (sc *scaleOptions) register(f *cmdFlags) {
	f.StringVar(&sc.serverName, "server-name", sc.serverName, "name of this NATS server, unique in its cluster and among a hub's leaf nodes (default trackskills)")
	f.StringVar(&sc.domain, "jetstream-domain", sc.domain, "JetStream domain of this server (or its cluster); a leaf node needs its own, unique among the hub's leaf nodes")
	f.StringVar(&sc.clusterName, "cluster-name", sc.clusterName, "join the NATS cluster of this name (the same on every server of it; with --cluster-addr, --routes and --server-name)")
	f.StringVar(&sc.clusterAddr, "cluster-addr", sc.clusterAddr, "host:port where the other servers of the cluster connect (their routes)")
	f.Var(&listFlag{p: &sc.routes}, "routes", "nats-route://host:port URLs of the cluster's servers, comma-separated or repeated (this one's own may be among them); "+
		"routes log in with <data-dir>/"+embeddednats.CredsDirName+"/"+embeddednats.RouteUser+".creds: copy that dir to every server before it first starts")
	f.StringVar(&sc.leafListen, "leaf-listen", sc.leafListen, "host:port where leaf nodes connect to this hub (they log in with <data-dir>/"+embeddednats.CredsDirName+"/"+embeddednats.LeafUser+".creds); empty = none")
	f.Var(&listFlag{p: &sc.leafRemotes}, "leaf-remote", "nats-leaf://host:port of the hub (several servers of it: comma-separated or repeated): run as a leaf node, with --jetstream-domain and --leaf-creds")
	f.StringVar(&sc.leafCreds, "leaf-creds", sc.leafCreds, "file that logs this leaf node in at its hub: a copy of the hub's "+embeddednats.LeafUser+".creds (user:password) or a NATS .creds file with a JWT")
	f.Var(&listFlag{p: &sc.leafDomains}, "leaf-domains", "JetStream domains of the leaf nodes whose events streams the hub's stream sources from (comma-separated or repeated): "+
		"the events they accept reach this stream once, also after their link was down")
}

// apply checks the flags and sets them on the server's config and the
// stream's; sources says --leaf-domains was given.
func (sc *scaleOptions) apply(o *options, cfg *embeddednats.Config, sources bool) error {
	cfg.ServerName, cfg.JetStreamDomain = sc.serverName, sc.domain
	cfg.Cluster = embeddednats.ClusterConfig{Name: sc.clusterName, Addr: sc.clusterAddr, Routes: sc.routes}
	cfg.Leaf = embeddednats.LeafConfig{Listen: sc.leafListen, Remotes: sc.leafRemotes, Creds: sc.leafCreds}
	if len(sc.leafRemotes) > 0 {
		cfg.Leaf.Isolate = embeddednats.LeafIsolate
	}
	for _, a := range []struct{ flag, addr string }{{"--cluster-addr", sc.clusterAddr}, {"--leaf-listen", sc.leafListen}} {
		if a.addr != "" && !isLoopback(a.addr) && !o.allowRemoteNATS {
			return fmt.Errorf("%s %s is reachable beyond this machine and NATS traffic between servers is not encrypted: bind it to 127.0.0.1, or pass --allow-remote-nats (on a private network)", a.flag, a.addr)
		}
	}
	if sc.leafCreds != "" && len(sc.leafRemotes) == 0 {
		return errors.New("--leaf-creds without --leaf-remote: it logs a leaf node in at its hub")
	}
	if slices.Contains(sc.leafDomains, sc.domain) && sc.domain != "" {
		return fmt.Errorf("--leaf-domains %s: that is this server's own domain; name the leaf nodes' domains", sc.domain)
	}
	if len(sc.leafDomains) > 0 && sc.leafListen == "" {
		return errors.New("--leaf-domains without --leaf-listen: the hub's stream sources from leaf nodes that connect to it")
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	o.stream.Sources = sc.leafDomains
	o.stream.Given.Sources = sources
	return o.stream.Validate()
}

// sourceStale is how long a stream source may go without a heartbeat
// from its leaf node (nats-server sends one a second) before it is
// restarted once a leaf node connects.
const sourceStale = 3 * time.Second

// leafPoll is how often the hub looks at its leaf node connections.
const leafPoll = 500 * time.Millisecond

// watchLeafSources restarts the stream's stale sources (ingest.RestartSource)
// shortly after a leaf node connects to the hub, until ctx ends: nats-server
// retries a source whose leaf node was unreachable only after a backoff of
// 10 s, 20 s, and so on up to minutes, so events accepted at a leaf node
// while its link was down would wait that long to reach the hub.
func watchLeafSources(ctx context.Context, ns *embeddednats.Server, js jetstream.JetStream, domains []string, logger *slog.Logger) {
	last := 0
	var checks []time.Time // when to look at the sources
	t := time.NewTicker(leafPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if n := ns.LeafNodes(); n > last {
				// Once the leaf node's JetStream domain is known, and
				// again in case its first heartbeat was still on the way.
				checks = append(checks, now.Add(time.Second), now.Add(2*time.Second+sourceStale))
				last = n
			} else {
				last = n
			}
			if len(checks) == 0 || now.Before(checks[0]) {
				continue
			}
			checks = checks[1:]
			restartStaleSources(ctx, js, domains, logger)
		}
	}
}

// restartStaleSources restarts the sources of domains that have not heard
// from their leaf node for sourceStale.
func restartStaleSources(ctx context.Context, js jetstream.JetStream, domains []string, logger *slog.Logger) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := js.Stream(cctx, trackskills.StreamName)
	if err != nil {
		logger.Warn("look at the stream's sources", "err", err)
		return
	}
	active := map[string]bool{}
	for _, si := range s.CachedInfo().Sources {
		if si.External != nil && si.Error == nil && si.Active >= 0 && si.Active < sourceStale {
			active[si.External.APIPrefix] = true
		}
	}
	for _, d := range domains {
		if active[ingest.SourceFrom(d).External.APIPrefix] {
			continue
		}
		if err := ingest.RestartSource(cctx, js, d); err != nil {
			logger.Warn("restart the stream's source", "domain", d, "err", err)
			continue
		}
		logger.Info("stream source restarted: a leaf node connected", "domain", d)
	}
}
