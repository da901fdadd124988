package ingest_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/ingest"
	"github.com/trackskills/trackskills/testkit"
	"github.com/trackskills/trackskills/wire"
)

// benchJS is the JetStream option serve runs with that the raw publish
// benchmark needs: room for its async publishes.
var benchJS = jetstream.WithPublishAsyncMaxPending(4096)

// benchEvent is a realistic validated event, as ingest publishes it.
func benchEvent(i int) trackskills.Event {
	d := int64(120 + i%900)
	return trackskills.Event{
		EventID: fmt.Sprintf("01KB%022d", i), ToolName: "mcp__github__create_issue", ToolCategory: "mcp",
		Status: "success", DurationMs: &d, Timestamp: time.Now().UnixMilli(), ReceivedAt: time.Now().UnixMilli(),
		UserHash: "5f2b9c1e0d7a4b3c8e6f1a2b3c4d5e6f", SessionHash: "a1b2c3d4e5f60718293a4b5c6d7e8f90",
		Source: "api", Metadata: []byte(`{"params_count":3}`),
	}
}

// BenchmarkRawJetStreamPublish is the raw limit of the stream: async
// publishes of one event per message, with a message id, as fast as the
// server acknowledges them.
func BenchmarkRawJetStreamPublish(b *testing.B) {
	js := testkit.MustRunStream(b, benchJS)
	payloads := make([][]byte, 1024)
	for i := range payloads {
		payloads[i], _ = wire.AppendEvent(nil, ptrEvent(benchEvent(i))) // a plain event always encodes
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		msg := &nats.Msg{Subject: trackskills.SubjectIngest, Data: payloads[i%len(payloads)], Header: nats.Header{}}
		msg.Header.Set(jetstream.MsgIDHeader, "raw-"+strconv.Itoa(i))
		if _, err := js.PublishMsgAsync(msg); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		b.Fatal("publishes not acknowledged")
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

func ptrEvent(ev trackskills.Event) *trackskills.Event { return &ev }

// BenchmarkPublisher_GroupCommit is ingest's publisher without HTTP: 64
// concurrent callers, one event each per call, each waiting for its ack.
func BenchmarkPublisher_GroupCommit(b *testing.B) {
	js := testkit.MustRunStream(b, benchJS)
	pub := ingest.NewPublisher(js, ingest.DefaultPublisherConfig(), testkit.Logger(b))
	b.Cleanup(func() { _ = pub.Close(context.Background()) }) // the benchmark is over
	const callers = 64
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	per := (b.N + callers - 1) / callers
	for c := 0; c < callers; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				ev := benchEvent(c*per + i)
				if err := pub.Publish(context.Background(), []trackskills.Event{ev}); err != nil {
					b.Error(err)
					return
				}
			}
		}(c)
	}
	wg.Wait()
	b.ReportMetric(float64(per*callers)/time.Since(start).Seconds(), "events/s")
}
