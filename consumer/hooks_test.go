package consumer_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/trackskills/trackskills/consumer"
	"github.com/trackskills/trackskills/testkit"
)

// Ensure Hooks.Committed is told about every committed batch: its events
// add up to the events written or ignored, in as many calls as Stats
// counts batches.
func TestConsumer_Hooks(t *testing.T) {
	t.Parallel()
	js := testkit.MustRunStream(t)
	db := testkit.MustOpenDB(t)
	var mu sync.Mutex
	calls, events := 0, 0
	cfg := testConfig()
	cfg.Hooks = &consumer.Hooks{Committed: func(n int, took time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if took <= 0 {
			t.Errorf("commit took %v", took)
		}
		calls++
		events += n
	}}
	c, _ := runConsumer(t, cfg, js, db)
	evs := makeEvents(300, "hook")
	publish(t, js, evs[:200]...)
	publish(t, js, evs[200:]...)
	testkit.Eventually(t, patience, countIs(t, db, 300))
	testkit.Eventually(t, patience, func() error {
		mu.Lock()
		defer mu.Unlock()
		st := c.Stats()
		// A redelivery (a loaded machine) is written again and ignored.
		if int64(events) != st.Inserted+st.Ignored || st.Inserted != 300 || int64(calls) != st.Batches {
			return fmt.Errorf("hook saw %d events in %d calls; stats %+v", events, calls, st)
		}
		return nil
	})
}
