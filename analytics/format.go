package analytics

import (
	"math"
	"strconv"

	"github.com/trackskills/trackskills"
)

// The figures shared by the responses: rates, averages and percentiles.

// rate formats part/total as a percentage with two decimals, as the
// original design does.
func rate(part, total int64) string {
	if total == 0 {
		return "0.00"
	}
	return strconv.FormatFloat(100*float64(part)/float64(total), 'f', 2, 64)
}

func avg(sum, n int64) int64 {
	if n == 0 {
		return 0
	}
	return int64(math.Round(float64(sum) / float64(n)))
}

func pct(h *trackskills.Histogram, q float64) int64 {
	return int64(math.Round(h.Quantile(q)))
}

// pctMax is pct bounded by the largest duration seen: a bucket's midpoint
// may lie above it (one 150 ms call would report p50 155 ms), and the true
// quantile never does.
func pctMax(h *trackskills.Histogram, q float64, maxMs int64) int64 {
	return min(pct(h, q), maxMs)
}

// optString is s, or nil (JSON null) when s is empty.
func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
