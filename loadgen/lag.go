package loadgen

import (
	"context"
	"fmt"
	"os"
	"sort"
	"sync/atomic"
	"time"

	"github.com/trackskills/trackskills/sql"
)

// openLagDB opens the consumer's SQLite file read-only and returns it with
// the largest rowid of its events, where the lag poller starts. A missing
// file is an error at once; a file whose schema is not there yet is waited
// for, up to 10 s.
func openLagDB(ctx context.Context, path string) (*sql.DB, int64, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, 0, fmt.Errorf("open db: %w", err)
	}
	octx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	db, err := sql.OpenReadOnly(octx, path)
	if err != nil {
		return nil, 0, fmt.Errorf("open db %s: %w", path, err)
	}
	rowid, err := db.LastEventRowid(ctx)
	if err != nil {
		_ = db.Close() // the read error is the one to report
		return nil, 0, fmt.Errorf("open db %s: %w", path, err)
	}
	return db, rowid, nil
}

// pollRows counts this run's rows in SQLite every 20 ms until ctx is done
// and returns a sample each time the count grew. The count is incremental
// (sql.DB.CountNewEvents): each poll reads only the rows after the largest
// rowid seen so far, and counts those whose event_id has this run's prefix.
//
// The sample time is the query start: the rows were visible by then.
func (lg *runner) pollRows(ctx context.Context, errs *atomic.Int64) []countSample {
	ticker := time.NewTicker(20 * time.Millisecond)
	defer ticker.Stop()
	var samples []countSample
	var total int64
	cursor := lg.startRowid
	for {
		at := time.Now()
		n, maxRowid, err := lg.db.CountNewEvents(ctx, lg.prefix, cursor)
		if err != nil {
			if ctx.Err() != nil {
				return samples
			}
			errs.Add(1)
		} else {
			cursor = maxRowid
			if n > 0 {
				total += n
				samples = append(samples, countSample{at: at, n: total})
				lg.rows.Store(total)
			}
		}
		select {
		case <-ctx.Done():
			return samples
		case <-ticker.C:
		}
	}
}

// waitRows waits until the poller has seen at least acked rows, max has
// passed or ctx is done, printing progress every 2 s.
func (lg *runner) waitRows(ctx context.Context, acked int64, max time.Duration) {
	deadline := time.Now().Add(max)
	check := time.NewTicker(20 * time.Millisecond)
	defer check.Stop()
	lastPrint := time.Now()
	for lg.rows.Load() < acked && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return
		case now := <-check.C:
			if now.Sub(lastPrint) >= 2*time.Second {
				fmt.Fprintf(lg.progress, "loadgen: waiting for rows in SQLite: %d of %d\n", lg.rows.Load(), acked)
				lastPrint = now
			}
		}
	}
}

// computeLag returns, for each ack sample (time at which A events had been
// acknowledged), the time until the first row sample with at least A rows.
// This is the visibility lag of the acknowledged prefix: it assumes nothing
// about which events became rows, only that A acked events need A rows.
// A row sample taken before the ack counts as lag 0 (the consumer can commit
// before the HTTP answer reaches the client). acks must be sorted by n and
// rows by time with n increasing; acks never matched are counted in missing.
func computeLag(acks, rows []countSample) (lags []time.Duration, missing int) {
	j := 0
	for _, a := range acks {
		for j < len(rows) && rows[j].n < a.n {
			j++
		}
		if j == len(rows) {
			missing++
			continue
		}
		lags = append(lags, max(0, rows[j].at.Sub(a.at)))
	}
	return lags, missing
}

// LagReport is the ack -> row in SQLite lag: the visibility lag of the
// acknowledged prefix (see computeLag).
type LagReport struct {
	LatencyReport
	Acked      int64   `json:"acked"`
	Rows       int64   `json:"rows"`
	Missing    int     `json:"missing"` // ack samples whose rows never showed up
	Waited     float64 `json:"waited_ms"`
	PollErrors int64   `json:"poll_errors"`
}

// newLagReport computes the lag from the workers' ack samples (in any
// order) and the poller's row samples.
func newLagReport(acks, rows []countSample) *LagReport {
	sort.Slice(acks, func(i, j int) bool { return acks[i].n < acks[j].n })
	lags, missing := computeLag(acks, rows)
	r := &LagReport{LatencyReport: newLatencyReport(lags), Missing: missing}
	if len(rows) > 0 {
		r.Rows = rows[len(rows)-1].n
	}
	return r
}
