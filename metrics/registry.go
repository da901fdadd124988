// Package metrics owns the Prometheus registry of a process and every
// collector of Track Skills: the HTTP middleware, the ingest and consumer
// counters and histograms fed by their hooks, and the collectors that read
// the state of the stream, the consumer, the database and the live feed
// when Prometheus scrapes. Each process has its own Registry; nothing
// registers on the global default one.
package metrics

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Registry is the registry of one process, with the Go runtime and
// process collectors and the HTTP metrics; the parts the process runs add
// theirs with the Register methods, each once.
type Registry struct {
	reg  *prometheus.Registry
	http *httpMetrics
}

// New returns a registry with the Go runtime, process and HTTP collectors.
func New() *Registry {
	reg := prometheus.NewRegistry()
	r := &Registry{reg: reg, http: newHTTPMetrics()}
	reg.MustRegister( // a fresh registry holds nothing they could clash with
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		r.http.requests, r.http.duration,
	)
	return r
}

// Handler serves the registry in the Prometheus exposition formats.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{})
}

// Gatherer returns the registry, for tests that read it without HTTP.
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// register adds collectors, naming the part whose metrics clash when one
// is registered twice.
func (r *Registry) register(part string, cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := r.reg.Register(c); err != nil {
			return fmt.Errorf("register %s metrics: %w", part, err)
		}
	}
	return nil
}

func counterOpts(m Metric) prometheus.CounterOpts {
	return prometheus.CounterOpts{Name: m.Name, Help: m.Help}
}

func gaugeOpts(m Metric) prometheus.GaugeOpts {
	return prometheus.GaugeOpts{Name: m.Name, Help: m.Help}
}

func histogramOpts(m Metric, buckets []float64) prometheus.HistogramOpts {
	return prometheus.HistogramOpts{Name: m.Name, Help: m.Help, Buckets: buckets}
}

func desc(m Metric) *prometheus.Desc {
	return prometheus.NewDesc(m.Name, m.Help, m.Labels, nil)
}

// Buckets of the histograms.
var (
	// latencyBuckets suit a local round trip or SQLite transaction, 0.5 ms
	// to 10 s.
	latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	// eventBuckets suit events of a message or a batch, 1 to 10,000.
	eventBuckets = []float64{1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000}
)
