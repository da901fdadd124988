package metrics

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/streamlag"
)

// StreamTimeout bounds the JetStream requests of one scrape: a stream
// that does not answer in time is reported down, and the scrape goes on.
const StreamTimeout = 2 * time.Second

// RegisterStream registers the metrics read from the events stream at
// each scrape: its messages, bytes and limit, and, when durable is given,
// the lag of the durable consumer it names (in messages after the ack
// floor, and in seconds: the age of the oldest message not acknowledged).
// A scrape makes two or three JetStream requests, within StreamTimeout.
func (r *Registry) RegisterStream(js jetstream.JetStream, durable func(context.Context) (string, error)) error {
	return r.register("stream", &streamCollector{js: js, durable: durable, now: time.Now})
}

type streamCollector struct {
	js      jetstream.JetStream
	durable func(context.Context) (string, error)
	now     func() time.Time
}

var (
	descStreamUp       = desc(streamUp)
	descStreamMessages = desc(streamMessages)
	descStreamBytes    = desc(streamBytes)
	descStreamMaxBytes = desc(streamMaxBytes)
	descLagMessages    = desc(consumerLagMessages)
	descLagSeconds     = desc(consumerLagSeconds)
)

// Describe sends the descriptors of the stream and lag gauges.
func (sc *streamCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descStreamUp
	ch <- descStreamMessages
	ch <- descStreamBytes
	ch <- descStreamMaxBytes
	if sc.durable != nil {
		ch <- descLagMessages
		ch <- descLagSeconds
	}
}

// Collect reads the stream and the durable; what it cannot read it leaves
// out, and trackskills_stream_up says whether the stream answered.
func (sc *streamCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), StreamTimeout)
	defer cancel()
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) // the descriptors have no labels
	}
	s, err := sc.js.Stream(ctx, trackskills.StreamName)
	if err != nil {
		gauge(descStreamUp, 0)
		return
	}
	info := s.CachedInfo()
	ss := info.State
	gauge(descStreamUp, 1)
	gauge(descStreamMessages, float64(ss.Msgs))
	gauge(descStreamBytes, float64(ss.Bytes))
	gauge(descStreamMaxBytes, float64(max(info.Config.MaxBytes, 0)))
	if sc.durable == nil {
		return
	}
	name, err := sc.durable(ctx)
	if err != nil || name == "" {
		return
	}
	c, err := s.Consumer(ctx, name)
	if err != nil {
		return
	}
	lag, seconds := streamlag.Of(ctx, s, c.CachedInfo(), sc.now())
	gauge(descLagMessages, float64(lag))
	if seconds != nil {
		gauge(descLagSeconds, *seconds)
	}
}
