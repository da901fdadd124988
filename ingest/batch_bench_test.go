package ingest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trackskills/trackskills/loadgen"
)

// benchBatchSize is the batch size of the 50,000 events/s load
// (`trackskills loadgen --mode batch --batch-size 500`).
const benchBatchSize = 500

// benchBatch is a batch body of loadgen's live events with an id slot of
// fixed width per event, so that each request can carry new event ids
// (the stream's dedupe window would otherwise absorb the repeats).
type benchBatch struct {
	body []byte
	ids  []int // offset of each event's id digits in body
}

// benchIDDigits is the width of the number in every event id of a
// benchBatch.
const benchIDDigits = 12

// newBenchBatch returns a body of n loadgen events, as a JSON array or as
// NDJSON lines.
func newBenchBatch(tb testing.TB, n int, ndjson bool) *benchBatch {
	tb.Helper()
	gen := loadgen.NewGenerator(loadgen.GeneratorConfig{Seed: 1, Tools: 50, Users: 1000, ErrorRate: 0.05})
	bb := &benchBatch{}
	if !ndjson {
		bb.body = append(bb.body, '[')
	}
	for i := range n {
		e := gen.Event(uint64(i))
		e.EventID = fmt.Sprintf("bench-%0*d", benchIDDigits, 0)
		raw, err := json.Marshal(e)
		if err != nil {
			tb.Fatalf("marshal event: %v", err)
		}
		at := bytes.Index(raw, []byte(`"event_id":"bench-`))
		if at < 0 {
			tb.Fatalf("no event_id in %s", raw)
		}
		switch {
		case ndjson && i > 0:
			bb.body = append(bb.body, '\n')
		case !ndjson && i > 0:
			bb.body = append(bb.body, ',')
		}
		bb.ids = append(bb.ids, len(bb.body)+at+len(`"event_id":"bench-`))
		bb.body = append(bb.body, raw...)
	}
	if !ndjson {
		bb.body = append(bb.body, ']')
	}
	return bb
}

// withIDs returns a copy of the body whose events have the ids first,
// first+1, ...
func (bb *benchBatch) withIDs(first uint64) []byte {
	body := bytes.Clone(bb.body)
	for i, at := range bb.ids {
		n := first + uint64(i)
		for j := at + benchIDDigits - 1; j >= at; j-- {
			body[j] = byte('0' + n%10)
			n /= 10
		}
	}
	return body
}

// BenchmarkServer_Batch is the ingest cost of a 500-event batch request
// end to end through the echo handler: read, decode, validate, hash,
// publish to a real embedded JetStream and answer. Concurrent requests
// stand for loadgen's 16 connections. One op is one request.
func BenchmarkServer_Batch(b *testing.B) {
	for _, tc := range []struct {
		name, contentType string
		ndjson            bool
	}{
		{"body=json", "application/json", false},
		{"body=ndjson", "application/x-ndjson", true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			srv, _ := MustServer(b, testConfig())
			bb := newBenchBatch(b, benchBatchSize, tc.ndjson)
			benchPosts(b, srv.Handler(), len(bb.body), benchBatchSize, "events/s", func(i uint64) *http.Request {
				r := httptest.NewRequest(http.MethodPost, "/api/track/batch", bytes.NewReader(bb.withIDs(i*benchBatchSize)))
				r.Header.Set("Content-Type", tc.contentType)
				return r
			}, func(w *httptest.ResponseRecorder) bool {
				return w.Code == http.StatusOK && bytes.Contains(w.Body.Bytes(), []byte(`"accepted":500`))
			})
		})
	}
}

// benchPosts serves the requests that req makes (its argument counts from
// 0) through h, 16 in flight on 2 cores (loadgen's connections), each of
// size bytes and carrying per units, and reports units a second as unit.
// An answer that ok refuses fails b.
func benchPosts(b *testing.B, h http.Handler, size, per int, unit string, req func(i uint64) *http.Request,
	ok func(*httptest.ResponseRecorder) bool) {
	var next atomic.Uint64
	b.SetBytes(int64(size))
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := serve(h, req(next.Add(1)-1))
			if !ok(w) {
				b.Errorf("status %d: %.200q", w.Code, w.Body)
				return
			}
		}
	})
	b.ReportMetric(float64(next.Load()*uint64(per))/time.Since(start).Seconds(), unit)
}
