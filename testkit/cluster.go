package testkit

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/embeddednats"
	"github.com/trackskills/trackskills/ingest"
)

// clusterFormTimeout bounds how long the servers of a test cluster take to
// route to one another and elect a JetStream meta leader.
const clusterFormTimeout = 30 * time.Second

// Cluster is a NATS cluster of embedded servers in one test, with
// authentication: every server has the same credentials dir, as the
// servers of one deployment share it.
type Cluster struct {
	tb       testing.TB
	Servers  []*embeddednats.Server // nil while a server is shut down
	Configs  []embeddednats.Config  // what each started with, for a restart
	CredsDir string
}

// MustRunCluster starts n embedded servers (n of 3 or more for an R3
// stream) on fixed loopback ports, routed to one another, with their
// stores in temp dirs and one shared credentials dir, and waits until
// every route is up and JetStream answers; Cleanup shuts them down.
func MustRunCluster(tb testing.TB, n int) *Cluster {
	tb.Helper()
	c := &Cluster{tb: tb, CredsDir: tb.TempDir()}
	routes := make([]string, n)
	for i := range n {
		routes[i] = "nats-route://" + MustFreeAddr(tb)
	}
	for i := range n {
		c.Configs = append(c.Configs, embeddednats.Config{
			Addr:       MustFreeAddr(tb),
			StoreDir:   tb.TempDir(),
			CredsDir:   c.CredsDir,
			ServerName: fmt.Sprintf("n%d", i+1),
			Cluster: embeddednats.ClusterConfig{
				Name:   "test-cluster",
				Addr:   routes[i][len("nats-route://"):],
				Routes: routes,
			},
		})
	}
	c.Servers = make([]*embeddednats.Server, n)
	// Started together: JetStream of a cluster waits for its peers.
	errs := make(chan error, n)
	for i := range n {
		go func() {
			srv, err := embeddednats.Start(context.Background(), c.Configs[i], Logger(tb).With("server", c.Configs[i].ServerName))
			c.Servers[i] = srv
			errs <- err
		}()
	}
	var startErr error
	for range n {
		startErr = errors.Join(startErr, <-errs)
	}
	tb.Cleanup(func() {
		for i := range c.Servers {
			c.Shutdown(i)
		}
	})
	if startErr != nil {
		tb.Fatalf("start cluster: %v", startErr)
	}
	c.WaitFormed()
	return c
}

// WaitFormed waits until every running server has a route to every other
// running one and JetStream answers through the first of them.
func (c *Cluster) WaitFormed() {
	c.tb.Helper()
	up := 0
	for _, s := range c.Servers {
		if s != nil {
			up++
		}
	}
	Eventually(c.tb, clusterFormTimeout, func() error {
		for _, s := range c.Servers {
			if s != nil && s.Routes() < up-1 {
				return fmt.Errorf("server %s has %d routes, want %d", s.Name(), s.Routes(), up-1)
			}
		}
		return nil
	})
}

// URLs returns the client URLs of every server, comma-separated, as
// --nats-url takes them.
func (c *Cluster) URLs() string {
	out := ""
	for i, cfg := range c.Configs {
		if i > 0 {
			out += ","
		}
		out += "nats://" + cfg.Addr
	}
	return out
}

// Shutdown stops server i (a no-op when it is down already).
func (c *Cluster) Shutdown(i int) {
	c.tb.Helper()
	if c.Servers[i] == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), natsTimeout)
	defer cancel()
	if err := c.Servers[i].Shutdown(ctx); err != nil {
		c.tb.Errorf("shutdown nats %s: %v", c.Configs[i].ServerName, err)
	}
	c.Servers[i] = nil
}

// Restart starts server i again, on its ports and store.
func (c *Cluster) Restart(i int) {
	c.tb.Helper()
	srv, err := embeddednats.Start(context.Background(), c.Configs[i], Logger(c.tb).With("server", c.Configs[i].ServerName))
	if err != nil {
		c.tb.Fatalf("restart nats %s: %v", c.Configs[i].ServerName, err)
	}
	c.Servers[i] = srv
}

// StreamLeader returns the index of the server that leads the events
// stream, or -1 while none does.
func (c *Cluster) StreamLeader() int {
	for i, s := range c.Servers {
		if s != nil && s.IsStreamLeader(trackskills.StreamName) {
			return i
		}
	}
	return -1
}

// MustStream declares the events stream with replicas replicas through
// server i, as ingest's owner would, retrying while the cluster elects its
// leaders, and waits until the stream has a leader.
func (c *Cluster) MustStream(i, replicas int) jetstream.JetStream {
	c.tb.Helper()
	js := MustJetStreamAs(c.tb, c.Servers[i], embeddednats.UserAdmin)
	cfg := ingest.DefaultStreamConfig()
	cfg.Replicas, cfg.Owner, cfg.Given.Replicas = replicas, true, true
	Eventually(c.tb, clusterFormTimeout, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := ingest.EnsureStream(ctx, js, cfg)
		return err
	})
	Eventually(c.tb, clusterFormTimeout, func() error {
		if c.StreamLeader() < 0 {
			return errors.New("the stream has no leader")
		}
		return nil
	})
	return js
}
