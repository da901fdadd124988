package testkit_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/testkit"
)

// Ensure MustRunCluster forms a cluster whose R3 stream has a leader and
// two followers, keeps what it stored across the loss and the restart of
// a server, and lists every client URL.
func TestMustRunCluster(t *testing.T) {
	t.Parallel()
	c := testkit.MustRunCluster(t, 3)
	js := c.MustStream(0, 3)
	ctx := context.Background()
	if _, err := js.Publish(ctx, trackskills.SubjectIngest, []byte("{}")); err != nil {
		t.Fatalf("publish: %v", err)
	}
	s, err := js.Stream(ctx, trackskills.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	if info := s.CachedInfo(); info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
		t.Fatalf("stream cluster %+v, want a leader and two followers", info.Cluster)
	}
	if got := strings.Count(c.URLs(), "nats://"); got != 3 {
		t.Fatalf("URLs()=%q, want three", c.URLs())
	}
	follower := (c.StreamLeader() + 1) % 3
	c.Shutdown(follower)
	c.Restart(follower)
	c.WaitFormed()
	js = testkit.MustJetStreamAt(t, c.Servers[follower].ClientURL(), testkit.AuthAt(t, c.CredsDir, "admin")...)
	// The restarted server answers for the stream once it has caught up
	// with the meta leader: until then a lookup may time out, and is
	// retried.
	testkit.Eventually(t, 60*time.Second, func() error {
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		st, err := testkit.StreamState(ctx, js)
		if err != nil {
			return err
		}
		if st.Msgs != 1 {
			return fmt.Errorf("%d messages, want 1", st.Msgs)
		}
		return nil
	})
}
