package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Ingest holds the ingest metrics; its methods are the ingest hooks, each
// one counter or histogram update per request or published message.
type Ingest struct {
	accepted        prometheus.Counter
	rejected        *prometheus.CounterVec
	publishDuration prometheus.Histogram
	publishGroup    prometheus.Histogram
	publishFailures prometheus.Counter
}

// RegisterIngest registers the ingest metrics, with the rejection counter
// of every reason in reasons at 0 (so that a rate over it exists before
// the first rejection).
func (r *Registry) RegisterIngest(reasons []string) (*Ingest, error) {
	m := &Ingest{
		accepted:        prometheus.NewCounter(counterOpts(ingestAccepted)),
		rejected:        prometheus.NewCounterVec(counterOpts(ingestRejected), ingestRejected.Labels),
		publishDuration: prometheus.NewHistogram(histogramOpts(ingestPublishDuration, latencyBuckets)),
		publishGroup:    prometheus.NewHistogram(histogramOpts(ingestPublishGroup, eventBuckets)),
		publishFailures: prometheus.NewCounter(counterOpts(ingestPublishFailures)),
	}
	for _, reason := range reasons {
		m.rejected.WithLabelValues(reason)
	}
	if err := r.register("ingest", m.accepted, m.rejected, m.publishDuration, m.publishGroup, m.publishFailures); err != nil {
		return nil, err
	}
	return m, nil
}

// Accepted counts events the stream stored.
func (m *Ingest) Accepted(events int) { m.accepted.Add(float64(events)) }

// Rejected counts events refused for reason.
func (m *Ingest) Rejected(reason string, events int) {
	m.rejected.WithLabelValues(reason).Add(float64(events))
}

// Published records one published stream message: its events, the time
// to its PubAck, and whether it failed.
func (m *Ingest) Published(events int, took time.Duration, err error) {
	m.publishDuration.Observe(took.Seconds())
	m.publishGroup.Observe(float64(events))
	if err != nil {
		m.publishFailures.Inc()
	}
}
