package loadgen

import (
	"reflect"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(n ...int) []time.Duration {
		d := make([]time.Duration, len(n))
		for i, v := range n {
			d[i] = time.Duration(v) * time.Millisecond
		}
		return d
	}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	for _, tt := range []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"Empty", nil, 50, 0},
		{"One", ms(7), 50, 7 * time.Millisecond},
		{"OneMax", ms(7), 100, 7 * time.Millisecond},
		{"P50", hundred, 50, 50 * time.Millisecond},
		{"P95", hundred, 95, 95 * time.Millisecond},
		{"P99", hundred, 99, 99 * time.Millisecond},
		{"Max", hundred, 100, 100 * time.Millisecond},
		{"P50Odd", ms(1, 2, 3), 50, 2 * time.Millisecond},
		{"P99Small", ms(1, 2, 3, 4), 99, 4 * time.Millisecond},
		{"TinyP", ms(1, 2, 3, 4), 0.1, 1 * time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := percentile(tt.sorted, tt.p), tt.want; got != want {
				t.Fatalf("percentile(%v)=%v, want %v", tt.p, got, want)
			}
		})
	}

	t.Run("Report", func(t *testing.T) {
		d := ms(5, 1, 4, 2, 3) // unsorted: newLatencyReport sorts
		r := newLatencyReport(d)
		if got, want := r, (LatencyReport{Count: 5, P50: 3, P95: 5, P99: 5, Max: 5}); got != want {
			t.Fatalf("report=%+v, want %+v", got, want)
		}
		if got, want := roundMS(1234567*time.Nanosecond), 1.23; got != want {
			t.Fatalf("roundMS=%v, want %v", got, want)
		}
	})
}

func TestComputeLag(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	for _, tt := range []struct {
		name        string
		acks, rows  []countSample
		want        []time.Duration
		wantMissing int
	}{
		{name: "Empty"},
		{
			name: "NoRows",
			acks: []countSample{{at(0), 1}, {at(5), 2}},
			// Both acks never reached the database.
			wantMissing: 2,
		},
		{
			name: "OneToOne",
			acks: []countSample{{at(0), 10}, {at(10), 20}},
			rows: []countSample{{at(40), 10}, {at(60), 20}},
			want: []time.Duration{40 * time.Millisecond, 50 * time.Millisecond},
		},
		{
			name: "FirstRowSampleAtOrAbove",
			// The row sample with 15 rows does not cover 20 acked events;
			// the one with 25 does, and it is the first that does.
			acks: []countSample{{at(0), 20}},
			rows: []countSample{{at(10), 15}, {at(30), 25}, {at(50), 40}},
			want: []time.Duration{30 * time.Millisecond},
		},
		{
			name: "OneRowSampleCoversMany",
			acks: []countSample{{at(0), 1}, {at(2), 2}, {at(4), 3}},
			rows: []countSample{{at(20), 3}},
			want: []time.Duration{20 * time.Millisecond, 18 * time.Millisecond, 16 * time.Millisecond},
		},
		{
			name: "RowsBeforeAckIsZero",
			// The consumer committed before the HTTP answer arrived.
			acks: []countSample{{at(50), 5}},
			rows: []countSample{{at(40), 5}},
			want: []time.Duration{0},
		},
		{
			name:        "TailMissing",
			acks:        []countSample{{at(0), 5}, {at(10), 10}},
			rows:        []countSample{{at(20), 7}},
			want:        []time.Duration{20 * time.Millisecond},
			wantMissing: 1,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, missing := computeLag(tt.acks, tt.rows)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("lags=%v, want %v", got, tt.want)
			}
			if got, want := missing, tt.wantMissing; got != want {
				t.Fatalf("missing=%d, want %d", got, want)
			}
		})
	}

	t.Run("ReportSortsAcks", func(t *testing.T) {
		// Workers append their samples in their own order.
		acks := []countSample{{at(10), 20}, {at(0), 10}}
		rows := []countSample{{at(40), 10}, {at(60), 20}}
		r := newLagReport(acks, rows)
		if got, want := r.LatencyReport, (LatencyReport{Count: 2, P50: 40, P95: 50, P99: 50, Max: 50}); got != want {
			t.Fatalf("report=%+v, want %+v", got, want)
		}
		if got, want := r.Rows, int64(20); got != want {
			t.Fatalf("rows=%d, want %d", got, want)
		}
	})
}
