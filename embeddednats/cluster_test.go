package embeddednats_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/trackskills/trackskills/embeddednats"
	"github.com/trackskills/trackskills/testkit"
)

// Ensure two servers route to each other only with the same route
// credentials: a server of another deployment (another credentials dir)
// cannot join the cluster.
func TestStart_RouteLogin(t *testing.T) {
	t.Parallel()
	shared := t.TempDir()
	for _, tc := range []struct {
		name       string
		secondDir  string
		wantRoutes int
	}{
		{"SameCredentials", shared, 1},
		{"ErrOtherCredentials", t.TempDir(), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r1, r2 := "nats-route://"+testkit.MustFreeAddr(t), "nats-route://"+testkit.MustFreeAddr(t)
			cfg := func(name, route, dir string) embeddednats.Config {
				return embeddednats.Config{
					Addr: "127.0.0.1:-1", StoreDir: t.TempDir(), CredsDir: dir, ServerName: name,
					Cluster: embeddednats.ClusterConfig{Name: "c", Addr: strings.TrimPrefix(route, "nats-route://"), Routes: []string{r1, r2}},
				}
			}
			a := testkit.MustStartNATS(t, cfg("a", r1, shared))
			b := testkit.MustStartNATS(t, cfg("b", r2, tc.secondDir))
			if tc.wantRoutes > 0 {
				testkit.Eventually(t, 10*time.Second, func() error {
					if a.Routes() < 1 || b.Routes() < 1 {
						return errors.New("routes not up yet")
					}
					return nil
				})
				if a.ClusterURL() != r1 {
					t.Fatalf("ClusterURL()=%q, want %q", a.ClusterURL(), r1)
				}
				return
			}
			time.Sleep(time.Second) // a few attempts of the route
			if a.Routes() != 0 || b.Routes() != 0 {
				t.Fatalf("routes %d and %d with other credentials, want none", a.Routes(), b.Routes())
			}
		})
	}
}

// Ensure a leaf node connects to its hub with the hub's leaf credentials
// and not without them.
func TestStart_LeafLogin(t *testing.T) {
	t.Parallel()
	hubCreds := t.TempDir()
	listen := testkit.MustFreeAddr(t)
	hub := testkit.MustStartNATS(t, embeddednats.Config{Addr: "127.0.0.1:-1", StoreDir: t.TempDir(), CredsDir: hubCreds, JetStreamDomain: "hub",
		Leaf: embeddednats.LeafConfig{Listen: listen}})
	leaf := func(creds string) *embeddednats.Server {
		return testkit.MustStartNATS(t, embeddednats.Config{Addr: "127.0.0.1:-1", StoreDir: t.TempDir(), CredsDir: t.TempDir(), JetStreamDomain: "office",
			ServerName: "office", Leaf: embeddednats.LeafConfig{Remotes: []string{"nats-leaf://" + listen}, Creds: creds, Isolate: embeddednats.LeafIsolate}})
	}
	stranger := leaf("")
	time.Sleep(time.Second) // a few attempts to connect
	if n := stranger.LeafNodes(); n != 0 {
		t.Fatalf("a leaf node without credentials has %d links to the hub", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := stranger.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	office := leaf(embeddednats.CredsFile(hubCreds, embeddednats.LeafUser))
	testkit.Eventually(t, 10*time.Second, func() error {
		if office.LeafNodes() != 1 || hub.LeafNodes() != 1 {
			return errors.New("leaf node not linked yet")
		}
		return nil
	})
}
