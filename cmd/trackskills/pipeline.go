package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills/analytics"
)

// registerPipeline registers the thresholds of GET /analytics/pipeline and
// the dashboard's pipeline strip (serve, analytics).
func (o *options) registerPipeline(f *cmdFlags) {
	f.Var(secondsFlag{&o.pipeline.LagAmber}, "pipeline-lag-amber",
		"the pipeline's consumer lag turns amber when the oldest event of the stream not yet in SQLite has waited this long (seconds, or a duration such as 10s)")
	f.Var(secondsFlag{&o.pipeline.LagRed}, "pipeline-lag-red",
		"the pipeline's consumer lag turns red, the consumer is not writing, when that event has waited this long (seconds, or a duration such as 1m)")
}

// pipelineConfig checks the pipeline's thresholds.
func (o *options) pipelineConfig() (analytics.PipelineConfig, error) {
	if err := o.pipeline.Validate(); err != nil {
		return o.pipeline, fmt.Errorf("--pipeline-lag-amber, --pipeline-lag-red: %w", err)
	}
	return o.pipeline, nil
}

// setPipelineStream lets the pipeline's health read the consumer lag from
// the stream over nc, analytics' live-feed connection: JetStream requests
// beside the feed's subscription.
func setPipelineStream(api *analytics.Server, nc *nats.Conn) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("pipeline: jetstream: %w", err)
	}
	api.SetStream(js)
	return nil
}

// secondsFlag is a time.Duration flag given in seconds ("10", "2.5") or as
// a Go duration ("10s", "1m").
type secondsFlag struct{ p *time.Duration }

func (s secondsFlag) String() string {
	if s.p == nil {
		return ""
	}
	return s.p.String()
}

// Get returns the duration, for flag.Getter.
func (s secondsFlag) Get() any { return *s.p }

func (s secondsFlag) Set(v string) error {
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		*s.p = time.Duration(n * float64(time.Second))
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("bad duration %q: want seconds (10) or a duration (10s)", v)
	}
	*s.p = d
	return nil
}
