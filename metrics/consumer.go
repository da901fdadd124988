package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ConsumerStats are the counters of the consumer of the moment, read at
// every scrape; a consumer started again (a rebuilt database adopted)
// starts them from zero, which Prometheus takes as a counter reset.
type ConsumerStats struct {
	Ready       bool
	Batches     int64
	Messages    int64
	Inserted    int64
	Ignored     int64
	DeadLetters int64
	Failures    int64
}

// Consumer holds the consumer's histograms; Committed is its commit hook.
type Consumer struct {
	batchEvents    prometheus.Histogram
	commitDuration prometheus.Histogram
}

// RegisterConsumer registers the consumer metrics: the histograms fed by
// Committed, and the counters read from stats at each scrape (none while
// stats reports false: no consumer, a rebuild being adopted).
func (r *Registry) RegisterConsumer(stats func() (ConsumerStats, bool)) (*Consumer, error) {
	m := &Consumer{
		batchEvents:    prometheus.NewHistogram(histogramOpts(consumerBatchEvents, eventBuckets)),
		commitDuration: prometheus.NewHistogram(histogramOpts(consumerCommitDuration, latencyBuckets)),
	}
	if err := r.register("consumer", m.batchEvents, m.commitDuration, &consumerCollector{stats: stats}); err != nil {
		return nil, err
	}
	return m, nil
}

// Committed records one batch written to SQLite.
func (m *Consumer) Committed(events int, took time.Duration) {
	m.batchEvents.Observe(float64(events))
	m.commitDuration.Observe(took.Seconds())
}

// consumerCollector reads the consumer's counters when scraped.
type consumerCollector struct {
	stats func() (ConsumerStats, bool)
}

var (
	descReady       = desc(consumerReady)
	descBatches     = desc(consumerBatches)
	descMessages    = desc(consumerMessages)
	descWritten     = desc(consumerWritten)
	descIgnored     = desc(consumerIgnored)
	descDeadLetters = desc(consumerDeadLetters)
	descFailures    = desc(consumerWriteFailures)
)

// Describe sends the descriptors of the counters.
func (cc *consumerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descReady, descBatches, descMessages, descWritten, descIgnored, descDeadLetters, descFailures} {
		ch <- d
	}
}

// Collect reads the counters.
func (cc *consumerCollector) Collect(ch chan<- prometheus.Metric) {
	st, ok := cc.stats()
	ready := 0.0
	if ok && st.Ready {
		ready = 1
	}
	// The descriptors have no labels: MustNewConstMetric cannot fail.
	ch <- prometheus.MustNewConstMetric(descReady, prometheus.GaugeValue, ready)
	if !ok {
		return
	}
	for _, c := range []struct {
		d *prometheus.Desc
		v int64
	}{
		{descBatches, st.Batches}, {descMessages, st.Messages}, {descWritten, st.Inserted},
		{descIgnored, st.Ignored}, {descDeadLetters, st.DeadLetters}, {descFailures, st.Failures},
	} {
		ch <- prometheus.MustNewConstMetric(c.d, prometheus.CounterValue, float64(c.v))
	}
}
