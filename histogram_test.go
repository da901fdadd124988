package trackskills_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/trackskills/trackskills"
)

const gamma = 1.08

// bucketBounds returns the real bounds [lo, hi) of bucket b ≥ 1, computed
// independently of the package's table.
func bucketBounds(b int) (lo, hi float64) {
	return math.Pow(gamma, float64(b-1)), math.Pow(gamma, float64(b))
}

func checkBucket(t *testing.T, d int64) int {
	t.Helper()
	b := trackskills.HistBucket(d)
	if b < 0 || b >= trackskills.HistBuckets {
		t.Fatalf("HistBucket(%d) = %d, out of [0, %d)", d, b, trackskills.HistBuckets)
	}
	if d == 0 {
		if b != 0 {
			t.Fatalf("HistBucket(0) = %d, want 0", b)
		}
		return b
	}
	lo, hi := bucketBounds(b)
	if x := float64(d); x < lo || x >= hi {
		t.Fatalf("HistBucket(%d) = %d with bounds [%v, %v)", d, b, lo, hi)
	}
	return b
}

func TestHistBucket(t *testing.T) {
	for _, tc := range []struct {
		ms   int64
		want int
	}{
		{0, 0},
		{1, 1},
		{2, 10}, // 1.08^9 ≈ 1.999 ≤ 2 < 1.08^10
		{-1, 0},
		{math.MinInt64, 0},
		{trackskills.MaxDurationMs, trackskills.HistBuckets - 1},
		{trackskills.MaxDurationMs + 1, trackskills.HistBuckets - 1},
		{math.MaxInt64, trackskills.HistBuckets - 1},
	} {
		if got := trackskills.HistBucket(tc.ms); got != tc.want {
			t.Fatalf("HistBucket(%d) = %d, want %d", tc.ms, got, tc.want)
		}
	}
	if got, want := trackskills.HistBuckets, 2+int(math.Floor(math.Log(trackskills.MaxDurationMs)/math.Log(gamma))); got != want {
		t.Fatalf("HistBuckets = %d, want %d", got, want)
	}

	prev := 0
	for d := int64(0); d <= 100_000; d++ {
		b := checkBucket(t, d)
		if b < prev {
			t.Fatalf("HistBucket(%d) = %d < HistBucket(%d) = %d", d, b, d-1, prev)
		}
		prev = b
	}
	// Large values: random ones, and the integers around every bucket bound.
	r := rand.New(rand.NewPCG(1, 2))
	for range 200_000 {
		checkBucket(t, 100_000+r.Int64N(trackskills.MaxDurationMs-100_000+1))
	}
	for b := 1; b < trackskills.HistBuckets; b++ {
		lo, _ := bucketBounds(b)
		c := int64(math.Ceil(lo))
		for d := max(0, c-2); d <= min(c+2, trackskills.MaxDurationMs); d++ {
			checkBucket(t, d)
		}
	}
	// Monotonic over the large range too, on a sorted sample.
	sample := make([]int64, 100_000)
	for i := range sample {
		sample[i] = r.Int64N(trackskills.MaxDurationMs + 1)
	}
	slices.Sort(sample)
	for i := 1; i < len(sample); i++ {
		if a, b := trackskills.HistBucket(sample[i-1]), trackskills.HistBucket(sample[i]); a > b {
			t.Fatalf("HistBucket(%d) = %d > HistBucket(%d) = %d", sample[i-1], a, sample[i], b)
		}
	}
}

func TestHistValue(t *testing.T) {
	if got, want := trackskills.HistValue(0), 0.0; got != want {
		t.Fatalf("HistValue(0) = %v, want %v", got, want)
	}
	if got, want := trackskills.HistValue(-5), 0.0; got != want {
		t.Fatalf("HistValue(-5) = %v, want %v", got, want)
	}
	if got, want := trackskills.HistValue(1000), trackskills.HistValue(trackskills.HistBuckets-1); got != want {
		t.Fatalf("HistValue(1000) = %v, want %v", got, want)
	}
	for b := 1; b < trackskills.HistBuckets; b++ {
		lo, hi := bucketBounds(b)
		if got, want := trackskills.HistValue(b), math.Sqrt(lo*hi); math.Abs(got-want) > 1e-9*want {
			t.Fatalf("HistValue(%d) = %v, want %v", b, got, want)
		}
	}
}

func relErr(got, want float64) float64 {
	if want == 0 {
		if got == 0 {
			return 0
		}
		return math.Inf(1)
	}
	return math.Abs(got-want) / want
}

func TestHistErrorBound(t *testing.T) {
	bound := math.Sqrt(gamma) - 1 // ≈ 0.0392
	maxErr := 0.0
	check := func(d int64) {
		e := relErr(trackskills.HistValue(trackskills.HistBucket(d)), float64(d))
		if e > 0.04 || e > bound+1e-12 {
			t.Fatalf("relative error for %d ms = %v, want ≤ %v", d, e, bound)
		}
		maxErr = max(maxErr, e)
	}
	for d := int64(1); d <= 200_000; d++ {
		check(d)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 200_000 {
		check(200_000 + r.Int64N(trackskills.MaxDurationMs-200_000+1))
	}
	check(trackskills.MaxDurationMs)
	t.Logf("max relative error of HistValue(HistBucket(d)): %.5f (bound %.5f)", maxErr, bound)
}

// exactQuantile is the nearest-rank quantile of sorted data.
func exactQuantile(sorted []int64, q float64) int64 {
	rank := int(math.Ceil(q * float64(len(sorted))))
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}

func TestHistQuantile(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	clamp := func(x float64) int64 {
		return int64(max(0, min(math.Round(x), trackskills.MaxDurationMs)))
	}
	gens := []struct {
		name string
		gen  func() int64
	}{
		{"uniform", func() int64 { return r.Int64N(10_000) }},
		{"uniform_wide", func() int64 { return r.Int64N(trackskills.MaxDurationMs + 1) }},
		{"lognormal", func() int64 { return clamp(math.Exp(5 + 1.5*r.NormFloat64())) }},
		{"heavy_tail", func() int64 { return clamp(10 / math.Pow(1-r.Float64(), 1/1.1)) }}, // Pareto α=1.1
		{"many_zeros", func() int64 {
			if r.IntN(10) < 8 {
				return 0
			}
			return r.Int64N(5_000)
		}},
		{"all_zeros", func() int64 { return 0 }},
		{"single_value", func() int64 { return 1234 }},
		{"small", func() int64 { return r.Int64N(20) }},
	}
	maxErr := 0.0
	for _, g := range gens {
		t.Run(g.name, func(t *testing.T) {
			for iter := range 50 {
				n := 1 + r.IntN(5_000)
				if iter < 5 {
					n = 1 + iter // tiny sets exercise the rank rounding
				}
				data := make([]int64, n)
				var h trackskills.Histogram
				for i := range data {
					data[i] = g.gen()
					h.Add(data[i])
				}
				if got, want := h.Count(), uint64(n); got != want {
					t.Fatalf("Count() = %d, want %d", got, want)
				}
				slices.Sort(data)
				for _, q := range []float64{0, 0.5, 0.95, 0.99, 1} {
					want := exactQuantile(data, q)
					got := h.Quantile(q)
					e := relErr(got, float64(want))
					if want == 0 && got != 0 {
						t.Fatalf("n=%d q=%v: Quantile = %v, want exactly 0", n, q, got)
					}
					if e > 0.05 {
						t.Fatalf("n=%d q=%v: Quantile = %v, exact %d, relative error %v > 5%%", n, q, got, want, e)
					}
					maxErr = max(maxErr, e)
				}
			}
		})
	}
	t.Logf("max relative error of Quantile: %.5f", maxErr)

	var empty trackskills.Histogram
	if got, want := empty.Quantile(0.5), 0.0; got != want {
		t.Fatalf("empty Quantile = %v, want %v", got, want)
	}
	var h trackskills.Histogram
	h.Add(0)
	h.Add(100)
	for _, tc := range []struct {
		q    float64
		want float64
	}{
		{-1, 0},
		{math.NaN(), 0},
		{0.5, 0},
		{0.51, trackskills.HistValue(trackskills.HistBucket(100))},
		{2, trackskills.HistValue(trackskills.HistBucket(100))},
	} {
		if got := h.Quantile(tc.q); got != tc.want {
			t.Fatalf("Quantile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
}

func randomHist(r *rand.Rand, buckets int) trackskills.Histogram {
	var h trackskills.Histogram
	for _, b := range r.Perm(trackskills.HistBuckets)[:buckets] {
		h.AddCount(b, 1+r.Uint64N(1_000_000))
	}
	return h
}

func sameCounts(t *testing.T, got, want *trackskills.Histogram) {
	t.Helper()
	for b := range trackskills.HistBuckets {
		if g, w := got.BucketCount(b), want.BucketCount(b); g != w {
			t.Fatalf("bucket %d: count %d, want %d", b, g, w)
		}
	}
	if g, w := got.Count(), want.Count(); g != w {
		t.Fatalf("Count() = %d, want %d", g, w)
	}
}

func TestHistogramEncoding(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, k := range []int{0, 1, 2, 30, 100, trackskills.HistBuckets} {
		h := randomHist(r, k)
		enc := h.AppendBinary(nil)
		var got trackskills.Histogram
		if err := trackskills.DecodeHistogram(enc, &got); err != nil {
			t.Fatalf("k=%d: DecodeHistogram: %v", k, err)
		}
		sameCounts(t, &got, &h)
		if got != h {
			t.Fatalf("k=%d: round trip differs", k)
		}
		if k == 30 {
			t.Logf("encoded size of a %d-bucket histogram (counts up to 1e6): %d bytes", k, len(enc))
		}
		// AppendBinary appends.
		if pre := h.AppendBinary([]byte("xy")); string(pre[:2]) != "xy" || string(pre[2:]) != string(enc) {
			t.Fatalf("k=%d: AppendBinary does not append", k)
		}
	}

	// A typical hour x tool row: 1,000 log-normal latencies.
	var typical trackskills.Histogram
	for range 1000 {
		typical.Add(int64(math.Exp(6 + 0.8*r.NormFloat64())))
	}
	k := 0
	for b := range trackskills.HistBuckets {
		if typical.BucketCount(b) != 0 {
			k++
		}
	}
	t.Logf("encoded size of 1,000 log-normal latencies (%d non-empty buckets): %d bytes", k, len(typical.AppendBinary(nil)))

	// The empty histogram.
	var empty trackskills.Histogram
	if got, want := string(empty.AppendBinary(nil)), "\x00"; got != want {
		t.Fatalf("empty encoding = %q, want %q", got, want)
	}
	// A known encoding: bucket 0 x3, bucket 5 x1, bucket 238 x300.
	var known trackskills.Histogram
	known.AddCount(0, 3)
	known.AddCount(5, 1)
	known.AddCount(238, 300)
	if got, want := string(known.AppendBinary(nil)), "\x03\x00\x03\x04\x01\xe8\x01\xac\x02"; got != want {
		t.Fatalf("known encoding = %q, want %q", got, want)
	}

	// Decode adds into an existing histogram.
	a, b := randomHist(r, 20), randomHist(r, 40)
	sum := a
	sum.Merge(&b)
	acc := a
	if err := trackskills.DecodeHistogram(b.AppendBinary(nil), &acc); err != nil {
		t.Fatalf("DecodeHistogram into existing: %v", err)
	}
	sameCounts(t, &acc, &sum)

	// MergeBinary equals the merge of the histograms.
	merged, err := trackskills.MergeBinary(a.AppendBinary(nil), b.AppendBinary(nil))
	if err != nil {
		t.Fatalf("MergeBinary: %v", err)
	}
	if got, want := string(merged), string(sum.AppendBinary(nil)); got != want {
		t.Fatalf("MergeBinary = %x, want %x", got, want)
	}
	for _, tc := range []struct {
		name string
		x, y []byte
		want trackskills.Histogram
	}{
		{"nil_nil", nil, nil, empty},
		{"empty_enc", []byte{}, empty.AppendBinary(nil), empty},
		{"nil_a", nil, a.AppendBinary(nil), a},
		{"a_nil", a.AppendBinary(nil), nil, a},
	} {
		out, err := trackskills.MergeBinary(tc.x, tc.y)
		if err != nil {
			t.Fatalf("%s: MergeBinary: %v", tc.name, err)
		}
		if got, want := string(out), string(tc.want.AppendBinary(nil)); got != want {
			t.Fatalf("%s: MergeBinary = %x, want %x", tc.name, got, want)
		}
	}
	if _, err := trackskills.MergeBinary(a.AppendBinary(nil), []byte{0x01}); !errors.Is(err, trackskills.ErrCorruptHistogram) {
		t.Fatalf("MergeBinary with corrupt operand: err = %v, want ErrCorruptHistogram", err)
	}

	// Nil and empty data are an empty histogram.
	for _, data := range [][]byte{nil, {}, {0x00}} {
		h := a
		if err := trackskills.DecodeHistogram(data, &h); err != nil {
			t.Fatalf("DecodeHistogram(%x): %v", data, err)
		}
		sameCounts(t, &h, &a)
	}
}

func TestDecodeHistogramCorrupt(t *testing.T) {
	valid := func() []byte {
		var h trackskills.Histogram
		h.AddCount(3, 10)
		h.AddCount(200, 1<<40)
		return h.AppendBinary(nil)
	}()
	maxU := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01} // 2^64-1
	cat := func(parts ...[]byte) []byte { return slices.Concat(parts...) }
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"truncated_count_varint", []byte{0x01, 0x00, 0x80}},
		{"truncated_k_varint", []byte{0x80}},
		{"truncated_gap_varint", []byte{0x01, 0x80}},
		{"missing_entry", []byte{0x02, 0x00, 0x01}},
		{"missing_count", []byte{0x01, 0x05}},
		{"truncated_valid", valid[:len(valid)-1]},
		{"too_many_buckets", []byte{0xf0, 0x01}},
		{"bucket_index_past_end", []byte{0x01, 239, 0x01, 0x01}},
		{"second_index_past_end", []byte{0x02, 0x00, 0x01, 238, 0x01}},
		{"huge_delta", cat([]byte{0x01}, maxU, []byte{0x01})},
		{"varint_overflow", []byte{0x01, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{"total_overflow", cat([]byte{0x02, 0x00}, maxU, []byte{0x00, 0x01})},
		{"zero_count", []byte{0x01, 0x00, 0x00}},
		{"trailing_garbage", cat(valid, []byte("junk"))},
		{"trailing_zero", cat(valid, []byte{0x00})},
		{"garbage", []byte("hello, world")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h trackskills.Histogram
			h.AddCount(7, 5)
			before := h
			err := trackskills.DecodeHistogram(tc.data, &h)
			if !errors.Is(err, trackskills.ErrCorruptHistogram) {
				t.Fatalf("DecodeHistogram(%x): err = %v, want ErrCorruptHistogram", tc.data, err)
			}
			if h != before {
				t.Fatalf("DecodeHistogram(%x) changed h on error", tc.data)
			}
		})
	}

	// Adding into a histogram that would overflow fails and leaves it alone.
	var full trackskills.Histogram
	full.AddCount(3, math.MaxUint64)
	before := full
	if err := trackskills.DecodeHistogram(valid, &full); !errors.Is(err, trackskills.ErrCorruptHistogram) {
		t.Fatalf("DecodeHistogram into full: err = %v, want ErrCorruptHistogram", err)
	}
	if full != before {
		t.Fatalf("DecodeHistogram into full changed h on error")
	}
}

func FuzzDecodeHistogram(f *testing.F) {
	var h trackskills.Histogram
	f.Add([]byte(nil))
	f.Add(h.AppendBinary(nil))
	h.AddCount(12, 7)
	f.Add(h.AppendBinary(nil))
	for b := 0; b < trackskills.HistBuckets; b += 7 {
		h.AddCount(b, uint64(b*b+1))
	}
	many := h.AppendBinary(nil)
	f.Add(many)
	f.Add(many[:len(many)/2])
	f.Add([]byte("\xff\xff\xff garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var h trackskills.Histogram
		if err := trackskills.DecodeHistogram(data, &h); err != nil {
			if !errors.Is(err, trackskills.ErrCorruptHistogram) {
				t.Fatalf("error %v does not match ErrCorruptHistogram", err)
			}
			var zero trackskills.Histogram
			if h != zero {
				t.Fatalf("DecodeHistogram changed h on error")
			}
			return
		}
		enc := h.AppendBinary(nil)
		var again trackskills.Histogram
		if err := trackskills.DecodeHistogram(enc, &again); err != nil {
			t.Fatalf("re-decode of %x: %v", enc, err)
		}
		if again != h {
			t.Fatalf("re-decode of %x differs", enc)
		}
		if len(enc) > len(data) && len(data) > 0 {
			t.Fatalf("canonical encoding %d bytes longer than input %d", len(enc), len(data))
		}
		var sum uint64
		for b := range trackskills.HistBuckets {
			sum += h.BucketCount(b)
		}
		if sum != h.Count() {
			t.Fatalf("bucket counts sum to %d, Count() = %d", sum, h.Count())
		}
		_ = h.Quantile(0.99)
		// What is merged in can be taken off again, and no more (where
		// merging twice does not wrap: Merge does not check).
		if h.Count() <= math.MaxUint64/2 {
			var twice trackskills.Histogram
			twice.Merge(&h)
			twice.Merge(&h)
			if err := twice.Subtract(&h); err != nil || twice != h {
				t.Fatalf("Subtract after Merge: err %v, same %v", err, twice == h)
			}
		}
		if h.Count() > 0 {
			var empty trackskills.Histogram
			if err := empty.Subtract(&h); !errors.Is(err, trackskills.ErrHistogramUnderflow) || empty != (trackskills.Histogram{}) {
				t.Fatalf("Subtract below zero: err %v, changed %v", err, empty != (trackskills.Histogram{}))
			}
		}
	})
}

func TestHistogram_Subtract(t *testing.T) {
	var h, off trackskills.Histogram
	h.AddCount(3, 5)
	h.AddCount(40, 2)
	off.AddCount(3, 2)
	if err := h.Subtract(&off); err != nil {
		t.Fatal(err)
	}
	if h.BucketCount(3) != 3 || h.BucketCount(40) != 2 || h.Count() != 5 {
		t.Fatalf("after Subtract: bucket 3 = %d, bucket 40 = %d, count %d; want 3, 2, 5",
			h.BucketCount(3), h.BucketCount(40), h.Count())
	}
	before := h
	off.AddCount(40, 3)
	if err := h.Subtract(&off); !errors.Is(err, trackskills.ErrHistogramUnderflow) {
		t.Fatalf("Subtract of 3 from a bucket of 2: err = %v, want ErrHistogramUnderflow", err)
	}
	if h != before {
		t.Fatal("a failed Subtract changed the histogram")
	}
}

func BenchmarkHistogram_Add(b *testing.B) {
	r := rand.New(rand.NewPCG(9, 10))
	durs := make([]int64, 4096)
	for i := range durs {
		durs[i] = int64(math.Exp(6 + 1.5*r.NormFloat64()))
	}
	var h trackskills.Histogram
	for i := 0; b.Loop(); i++ {
		h.Add(durs[i&4095])
	}
}

func BenchmarkMergeBinary(b *testing.B) {
	r := rand.New(rand.NewPCG(11, 12))
	x, y := randomHist(r, 30), randomHist(r, 30)
	ex, ey := x.AppendBinary(nil), y.AppendBinary(nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := trackskills.MergeBinary(ex, ey); err != nil {
			b.Fatal(err)
		}
	}
}
