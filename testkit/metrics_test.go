package testkit_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/trackskills/trackskills/testkit"
)

// Ensure Scrape parses an exposition and Value sums the samples whose
// labels match, counting a histogram's observations.
func TestScrape(t *testing.T) {
	const body = `# TYPE reqs_total counter
reqs_total{route="/a",code="200"} 3
reqs_total{route="/a",code="500"} 1
reqs_total{route="/b",code="200"} 5
# TYPE up gauge
up 1
# TYPE took_seconds histogram
took_seconds_bucket{le="1"} 2
took_seconds_bucket{le="+Inf"} 4
took_seconds_sum 3.5
took_seconds_count 4
`
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Api-Key") != "k" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(body)) // the client reads it or the test fails
	}))
	defer hs.Close()
	if _, err := testkit.Scrape(hs.URL); err == nil || !strings.Contains(err.Error(), "HTTP 401") {
		t.Fatalf("scrape without key: err=%v, want HTTP 401", err)
	}
	m, err := testkit.Scrape(hs.URL, "X-Api-Key", "k")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		metric string
		labels []string
		want   float64
		found  bool
	}{
		{"AllSamples", "reqs_total", nil, 9, true},
		{"OneLabel", "reqs_total", []string{"route", "/a"}, 4, true},
		{"TwoLabels", "reqs_total", []string{"route", "/a", "code", "200"}, 3, true},
		{"NoMatch", "reqs_total", []string{"route", "/c"}, 0, false},
		{"Gauge", "up", nil, 1, true},
		{"HistogramCount", "took_seconds", nil, 4, true},
		{"Absent", "nope", nil, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, found := m.Value(tt.metric, tt.labels...)
			if got != tt.want || found != tt.found {
				t.Fatalf("Value=%v,%v, want %v,%v", got, found, tt.want, tt.found)
			}
		})
	}
}
