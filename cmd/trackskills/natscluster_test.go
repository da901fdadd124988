package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/embeddednats"
	"github.com/trackskills/trackskills/testkit"
)

// Ensure `trackskills nats` refuses bad cluster and leaf node settings
// before it starts anything, saying which.
func TestRunNATS_ClusterFlagErrors(t *testing.T) {
	t.Parallel()
	cluster := []string{"--cluster-name", "c1", "--cluster-addr", "127.0.0.1:0", "--server-name", "n1"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"ErrRouteScheme", append(cluster, "--routes", "http://127.0.0.1:6222"), "want nats-route://host:port"},
		{"ErrRouteNoPort", append(cluster, "--routes", "nats-route://127.0.0.1"), "want nats-route://host:port"},
		{"ErrRouteTwice", append(cluster, "--routes", "nats-route://127.0.0.1:6222,nats-route://127.0.0.1:6222"), "given twice"},
		{"ErrRoutePasswordRedacted", append(cluster, "--routes", "nats-route://u:s3cret@127.0.0.1"), "xxxxx"},
		{"ErrRoutesNoCluster", []string{"--routes", "nats-route://127.0.0.1:6222"}, "need a cluster name"},
		{"ErrClusterNoAddr", []string{"--cluster-name", "c1", "--server-name", "n1"}, "cluster address"},
		{"ErrClusterNoServerName", []string{"--cluster-name", "c1", "--cluster-addr", "127.0.0.1:0"}, "server name"},
		{"ErrServerName", []string{"--server-name", "n 1"}, "letters, digits"},
		{"ErrDomain", []string{"--jetstream-domain", "a.b"}, "letters, digits"},
		{"ErrClusterRemote", []string{"--cluster-name", "c1", "--cluster-addr", "0.0.0.0:6222", "--server-name", "n1"}, "--allow-remote-nats"},
		{"ErrLeafNoDomain", []string{"--leaf-remote", "nats-leaf://127.0.0.1:7422"}, "own JetStream domain"},
		{"ErrLeafScheme", []string{"--leaf-remote", "ftp://127.0.0.1:7422", "--jetstream-domain", "office"}, "want nats-leaf://host:port"},
		{"ErrLeafCredsNoRemote", []string{"--leaf-creds", "x.creds"}, "without --leaf-remote"},
		{"ErrLeafCredsMissing", []string{"--leaf-remote", "nats-leaf://127.0.0.1:7422", "--jetstream-domain", "office", "--leaf-creds", "/nonexistent/leaf.creds"}, "leaf credentials"},
		{"ErrLeafDomainsNoListen", []string{"--leaf-domains", "office"}, "without --leaf-listen"},
		{"ErrLeafDomainTwice", []string{"--leaf-listen", "127.0.0.1:0", "--leaf-domains", "office,office"}, "given twice"},
		{"ErrLeafDomainOwn", []string{"--jetstream-domain", "hub", "--leaf-listen", "127.0.0.1:0", "--leaf-domains", "hub"}, "own domain"},
		{"ErrLeafDomainBad", []string{"--leaf-listen", "127.0.0.1:0", "--leaf-domains", "a>"}, "want a JetStream domain"},
		{"ErrReplicas", []string{"--stream-replicas", "7"}, "replicas must be 1-5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			args := append([]string{"nats", "--data-dir", dir, "--nats-addr", "127.0.0.1:0"}, tc.args...)
			var logs testkit.LockedBuffer
			err := run(context.Background(), args, func(string) string { return "" }, &logs, &logs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err=%v, want it to say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("err=%v shows a password", err)
			}
			if _, statErr := os.Stat(filepath.Join(dir, "nats")); statErr == nil {
				t.Fatalf("the store was created before the settings were checked: %v", err)
			}
		})
	}
}

// Ensure three `trackskills nats` processes given each other's routes form
// a cluster with the credentials dir of the first copied to the others,
// make an R1 stream by default, and that one restarted with
// --stream-replicas 3 makes it R3.
func TestRunNATS_ClusterReplicas(t *testing.T) {
	t.Parallel()
	const n = 3
	dirs, natsAddrs, routes := make([]string, n), make([]string, n), make([]string, n)
	for i := range n {
		dirs[i], natsAddrs[i], routes[i] = t.TempDir(), testkit.MustFreeAddr(t), "nats-route://"+testkit.MustFreeAddr(t)
	}
	args := func(i int, extra ...string) []string {
		return append([]string{"nats", "--data-dir", dirs[i], "--nats-addr", natsAddrs[i], "--server-name", fmt.Sprintf("n%d", i+1),
			"--cluster-name", "c1", "--cluster-addr", strings.TrimPrefix(routes[i], "nats-route://"), "--routes", strings.Join(routes, ","),
			"--log-level", "warn"}, extra...)
	}
	runPart(t, args(0)...)
	credsDir := filepath.Join(dirs[0], embeddednats.CredsDirName)
	testkit.Eventually(t, 30*time.Second, func() error {
		_, err := embeddednats.ReadCreds(embeddednats.CredsFile(credsDir, embeddednats.RouteUser))
		return err
	})
	for i := 1; i < n; i++ {
		copyDir(t, credsDir, filepath.Join(dirs[i], embeddednats.CredsDirName))
	}
	runPart(t, args(1)...)
	third := runPart(t, args(2)...)
	testkit.Eventually(t, 30*time.Second, func() error {
		c, err := net.DialTimeout("tcp", natsAddrs[0], time.Second)
		if err == nil {
			c.Close()
		}
		return err
	})
	admin := testkit.MustJetStreamAt(t, natsAdminURL(t, dirs[0], "nats://"+natsAddrs[0]))
	replicas := func(want int) {
		t.Helper()
		testkit.Eventually(t, 30*time.Second, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			s, err := admin.Stream(ctx, trackskills.StreamName)
			if err != nil {
				return err
			}
			info := s.CachedInfo()
			if got := info.Config.Replicas; got != want {
				return fmt.Errorf("stream replicas %d, want %d", got, want)
			}
			if info.Cluster == nil || len(info.Cluster.Replicas) != want-1 {
				return fmt.Errorf("stream cluster %+v, want %d followers", info.Cluster, want-1)
			}
			return nil
		})
	}
	replicas(1)
	if err := third.stop(); err != nil {
		t.Fatalf("%v\n%s", err, third.logs.String())
	}
	runPart(t, args(2, "--stream-replicas", "3")...)
	replicas(3)
}

// copyDir copies the files of the directory src into dst, with their
// modes, as an operator copies the credentials dir to another node.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
