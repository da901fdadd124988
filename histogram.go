package trackskills

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
)

// Latency histogram
//
// Durations are counted in fixed log-spaced buckets of ratio γ = 1.08.
// Bucket 0 holds 0 ms; bucket b ≥ 1 holds the durations d with
// γ^(b-1) ≤ d < γ^b, that is b = 1 + floor(ln(d)/ln(γ)). Because
// 1.08^k = 27^k/25^k is never an integer for k ≥ 1, each bucket holds the
// integers from ceil(γ^(b-1)) up to ceil(γ^b)-1; at small durations several
// buckets hold no integer at all and simply stay empty. Durations above
// MaxDurationMs clamp to the last bucket (the one holding MaxDurationMs),
// negative ones to bucket 0.

// histGamma is the ratio between the bounds of a bucket.
const histGamma = 1.08

// HistBuckets is the number of buckets of a Histogram: bucket 0 for 0 ms and
// buckets 1..238 for 1 ms up to MaxDurationMs (86,400,000 ms), since
// 1 + floor(ln(86,400,000)/ln(1.08)) = 238.
const HistBuckets = 239

// histLower[b] is the smallest integer duration of bucket b, ceil(γ^(b-1)) for
// b ≥ 1 (0 for bucket 0). histLower[HistBuckets] is the first integer past the
// last bucket, a sentinel for the correction loop of HistBucket.
var histLower = func() (t [HistBuckets + 1]int64) {
	for b := 1; b <= HistBuckets; b++ {
		t[b] = int64(math.Ceil(math.Pow(histGamma, float64(b-1))))
	}
	return t
}()

// histValues[b] is HistValue(b), precomputed.
var histValues = func() (v [HistBuckets]float64) {
	for b := 1; b < HistBuckets; b++ {
		v[b] = math.Pow(histGamma, float64(b)-0.5)
	}
	return v
}()

// invLnGamma is 1/ln(γ), for the first estimate of a bucket index.
var invLnGamma = 1 / math.Log(histGamma)

// HistBucket returns the bucket of a duration in milliseconds: 0 for 0 (and
// for negative values), else 1 + floor(ln(ms)/ln(1.08)), with durations above
// MaxDurationMs counted in the last bucket. The floating-point estimate is
// corrected against a table of exact integer bucket lower bounds, so every
// integer in [lower(b), lower(b+1)) maps to b even at exact powers.
func HistBucket(ms int64) int {
	if ms <= 0 {
		return 0
	}
	if ms > MaxDurationMs {
		ms = MaxDurationMs
	}
	b := 1 + int(math.Log(float64(ms))*invLnGamma)
	b = max(1, min(b, HistBuckets-1))
	// The estimate is off by at most one; walk to the exact bucket. For an
	// integer, the right bucket is the largest b with histLower[b] ≤ ms.
	for b > 1 && histLower[b] > ms {
		b--
	}
	for b < HistBuckets-1 && histLower[b+1] <= ms {
		b++
	}
	return b
}

// HistValue returns the representative value in milliseconds of bucket b: 0
// for bucket 0, else the geometric midpoint γ^(b-0.5) of the bucket's bounds
// γ^(b-1) and γ^b. The relative error of any value of the bucket against this
// representative is at most sqrt(1.08)-1 ≈ 3.92%: the histogram's stated
// error is < 5%. An out-of-range b is clamped to [0, HistBuckets-1].
func HistValue(b int) float64 {
	return histValues[max(0, min(b, HistBuckets-1))]
}

// Histogram counts durations in the HistBuckets log-spaced buckets. The zero
// value is an empty histogram ready to use; it is a plain value (about 1.9 KB)
// that needs no allocation to add to. Counts wrap silently past 2^64-1 in Add,
// AddCount and Merge; DecodeHistogram rejects data that would overflow.
type Histogram struct {
	counts [HistBuckets]uint64
	total  uint64
}

// Add counts one duration in milliseconds (see HistBucket for clamping).
func (h *Histogram) Add(ms int64) {
	h.counts[HistBucket(ms)]++
	h.total++
}

// AddCount adds n to the count of a bucket; an out-of-range bucket is clamped
// to [0, HistBuckets-1] like the durations of HistBucket.
func (h *Histogram) AddCount(bucket int, n uint64) {
	bucket = max(0, min(bucket, HistBuckets-1))
	h.counts[bucket] += n
	h.total += n
}

// Merge adds the counts of o into h.
func (h *Histogram) Merge(o *Histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
}

// ErrHistogramUnderflow reports a Subtract that would take a bucket below 0.
var ErrHistogramUnderflow = errors.New("histogram bucket would go below zero")

// Subtract takes the counts of o off h, the inverse of Merge: for counts
// that change as the things counted change (a run whose time is corrected
// is taken off one bucket and counted in another). A bucket of o larger
// than the same bucket of h is an error matching ErrHistogramUnderflow, and
// h is left unchanged.
func (h *Histogram) Subtract(o *Histogram) error {
	for i, c := range o.counts {
		if c > h.counts[i] {
			return fmt.Errorf("subtract %d from bucket %d of %d: %w", c, i, h.counts[i], ErrHistogramUnderflow)
		}
	}
	for i, c := range o.counts {
		h.counts[i] -= c
	}
	h.total -= o.total
	return nil
}

// Count returns the total number of durations counted.
func (h *Histogram) Count() uint64 { return h.total }

// BucketCount returns the count of bucket b, 0 for an out-of-range b.
func (h *Histogram) BucketCount(b int) uint64 {
	if b < 0 || b >= HistBuckets {
		return 0
	}
	return h.counts[b]
}

// Quantile returns the nearest-rank q-quantile: HistValue of the smallest
// bucket whose cumulative count is at least ceil(q*Count()) (and at least 1).
// q is clamped to [0, 1] (NaN counts as 0); an empty histogram gives 0.
func (h *Histogram) Quantile(q float64) float64 {
	if h.total == 0 {
		return 0
	}
	if !(q > 0) { // also NaN
		q = 0
	} else if q > 1 {
		q = 1
	}
	rank := uint64(1)
	if r := math.Ceil(q * float64(h.total)); r >= float64(h.total) {
		rank = h.total
	} else if r > 1 {
		rank = uint64(r)
	}
	var cum uint64
	for b, c := range h.counts {
		cum += c
		if cum >= rank {
			return HistValue(b)
		}
	}
	// Only reachable if the counts wrapped and no longer add up to total.
	return HistValue(HistBuckets - 1)
}

// AppendBinary appends the compact encoding of h to b and returns the
// extended slice. The encoding is sparse: uvarint(k), the number of non-empty
// buckets, then for each non-empty bucket in increasing index order the pair
// uvarint(gap) uvarint(count), where gap = index - previous index - 1 and the
// previous index starts at -1 (so gap is the number of empty buckets skipped,
// and the first gap is the first index itself). An empty histogram encodes as
// the single byte 0x00. Counts are never 0 in the encoding.
func (h *Histogram) AppendBinary(b []byte) []byte {
	k := 0
	for _, c := range h.counts {
		if c != 0 {
			k++
		}
	}
	b = binary.AppendUvarint(b, uint64(k))
	prev := -1
	for i, c := range h.counts {
		if c == 0 {
			continue
		}
		b = binary.AppendUvarint(b, uint64(i-prev-1))
		b = binary.AppendUvarint(b, c)
		prev = i
	}
	return b
}

// ErrCorruptHistogram reports histogram data that DecodeHistogram cannot read.
var ErrCorruptHistogram = errors.New("corrupt histogram")

// DecodeHistogram decodes data, as written by AppendBinary, and ADDS its
// counts into h, so that the rows of a window merge by decoding each into one
// Histogram. Nil or empty data is an empty histogram. Truncated data, a bucket
// index out of range, a zero count, a varint or count sum that overflows, and
// trailing bytes are errors matching ErrCorruptHistogram; h is left unchanged
// on error.
func DecodeHistogram(data []byte, h *Histogram) error {
	if len(data) == 0 {
		return nil
	}
	k, n := binary.Uvarint(data)
	if n <= 0 {
		return fmt.Errorf("decode histogram: bucket count: %w", varintErr(n))
	}
	data = data[n:]
	if k > HistBuckets {
		return fmt.Errorf("decode histogram: %d non-empty buckets, at most %d: %w", k, HistBuckets, ErrCorruptHistogram)
	}
	var d Histogram
	idx := -1
	for i := range int(k) {
		gap, n := binary.Uvarint(data)
		if n <= 0 {
			return fmt.Errorf("decode histogram: entry %d: bucket gap: %w", i, varintErr(n))
		}
		data = data[n:]
		if gap >= uint64(HistBuckets-1-idx) {
			return fmt.Errorf("decode histogram: entry %d: bucket index past %d: %w", i, HistBuckets-1, ErrCorruptHistogram)
		}
		idx += int(gap) + 1
		c, n := binary.Uvarint(data)
		if n <= 0 {
			return fmt.Errorf("decode histogram: entry %d (bucket %d): count: %w", i, idx, varintErr(n))
		}
		data = data[n:]
		if c == 0 {
			return fmt.Errorf("decode histogram: entry %d (bucket %d): zero count: %w", i, idx, ErrCorruptHistogram)
		}
		var carry uint64
		if d.total, carry = bits.Add64(d.total, c, 0); carry != 0 {
			return fmt.Errorf("decode histogram: entry %d (bucket %d): total count overflows: %w", i, idx, ErrCorruptHistogram)
		}
		d.counts[idx] = c
	}
	if len(data) != 0 {
		return fmt.Errorf("decode histogram: %d trailing bytes: %w", len(data), ErrCorruptHistogram)
	}
	if _, carry := bits.Add64(h.total, d.total, 0); carry != 0 {
		return fmt.Errorf("decode histogram: total count overflows when added: %w", ErrCorruptHistogram)
	}
	for i, c := range d.counts {
		if c != 0 {
			if _, carry := bits.Add64(h.counts[i], c, 0); carry != 0 {
				return fmt.Errorf("decode histogram: bucket %d count overflows when added: %w", i, ErrCorruptHistogram)
			}
		}
	}
	h.Merge(&d)
	return nil
}

// varintErr describes the failure n (≤ 0) of binary.Uvarint.
func varintErr(n int) error {
	if n == 0 {
		return fmt.Errorf("truncated varint: %w", ErrCorruptHistogram)
	}
	return fmt.Errorf("varint overflows 64 bits: %w", ErrCorruptHistogram)
}

// MergeBinary decodes the two encoded histograms a and b, merges them, and
// returns the encoding of the sum (the SQL merge function of an ON CONFLICT DO
// UPDATE). Nil or empty operands are empty histograms.
func MergeBinary(a, b []byte) ([]byte, error) {
	var h Histogram
	if err := DecodeHistogram(a, &h); err != nil {
		return nil, fmt.Errorf("merge histograms: first operand: %w", err)
	}
	if err := DecodeHistogram(b, &h); err != nil {
		return nil, fmt.Errorf("merge histograms: second operand: %w", err)
	}
	return h.AppendBinary(make([]byte, 0, len(a)+len(b))), nil
}
