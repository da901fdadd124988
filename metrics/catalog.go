package metrics

import "slices"

// Metric describes one trackskills_ metric: the docs list every one, and
// their tests check that dashboards and alert rules name only these.
type Metric struct {
	Name   string
	Type   string // counter, gauge or histogram
	Labels []string
	Help   string
	Part   string // the process part that exposes it: http, ingest, consumer, stream, database, analytics
}

// The metric types of Metric.Type.
const (
	Counter   = "counter"
	Gauge     = "gauge"
	Histogram = "histogram"
)

// The metrics, defined once: the collectors are built from these.
var (
	httpRequests = Metric{"trackskills_http_requests_total", Counter, []string{"part", "route", "code"},
		"HTTP requests answered, by part, route pattern (never the raw path) and status code.", "http"}
	httpDuration = Metric{"trackskills_http_request_duration_seconds", Histogram, []string{"part", "route"},
		"Time from routing an HTTP request to its answer, by part and route pattern (live streams count their whole life).", "http"}

	ingestAccepted = Metric{"trackskills_ingest_events_accepted_total", Counter, nil,
		"Events stored in the stream and answered 2xx.", "ingest"}
	ingestRejected = Metric{"trackskills_ingest_events_rejected_total", Counter, []string{"reason"},
		"Events refused, by reason; a request refused before its events are read counts as one.", "ingest"}
	ingestPublishDuration = Metric{"trackskills_ingest_publish_duration_seconds", Histogram, nil,
		"Time from publishing one stream message to its PubAck (or failure).", "ingest"}
	ingestPublishGroup = Metric{"trackskills_ingest_publish_group_events", Histogram, nil,
		"Events in one published stream message: concurrent requests share a message (group commit).", "ingest"}
	ingestPublishFailures = Metric{"trackskills_ingest_publish_failures_total", Counter, nil,
		"Stream messages whose publish failed or got no PubAck in time.", "ingest"}

	consumerBatchEvents = Metric{"trackskills_consumer_batch_events", Histogram, nil,
		"Events in one committed consumer batch (one SQLite transaction).", "consumer"}
	consumerCommitDuration = Metric{"trackskills_consumer_commit_duration_seconds", Histogram, nil,
		"Time of the SQLite write of one batch that committed.", "consumer"}
	consumerBatches = Metric{"trackskills_consumer_batches_total", Counter, nil,
		"Batches committed to SQLite.", "consumer"}
	consumerMessages = Metric{"trackskills_consumer_messages_total", Counter, nil,
		"Stream messages acknowledged or terminated after their batch committed.", "consumer"}
	consumerWritten = Metric{"trackskills_consumer_events_written_total", Counter, nil,
		"Events inserted into SQLite as new rows.", "consumer"}
	consumerIgnored = Metric{"trackskills_consumer_events_ignored_total", Counter, nil,
		"Events already stored (redeliveries, retries), ignored by their event_id.", "consumer"}
	consumerDeadLetters = Metric{"trackskills_consumer_dead_letters_total", Counter, nil,
		"Undecodable messages or events kept in the dead_letters table.", "consumer"}
	consumerWriteFailures = Metric{"trackskills_consumer_write_failures_total", Counter, nil,
		"Failed attempts to write a batch to SQLite, each retried in place.", "consumer"}
	consumerReady = Metric{"trackskills_consumer_ready", Gauge, nil,
		"1 while the consumer reads its durable, 0 otherwise.", "consumer"}
	consumerLagMessages = Metric{"trackskills_consumer_lag_messages", Gauge, nil,
		"Stream messages after the consumer's ack floor (stream last sequence minus ack floor): each holds one or more events.", "consumer"}
	consumerLagSeconds = Metric{"trackskills_consumer_lag_seconds", Gauge, nil,
		"Age of the oldest stream message not yet acknowledged, 0 when none waits.", "consumer"}

	streamUp = Metric{"trackskills_stream_up", Gauge, nil,
		"1 when the last scrape could read the events stream's info, 0 otherwise.", "stream"}
	streamMessages = Metric{"trackskills_stream_messages", Gauge, nil,
		"Messages held by the events stream.", "stream"}
	streamBytes = Metric{"trackskills_stream_bytes", Gauge, nil,
		"Bytes held by the events stream.", "stream"}
	streamMaxBytes = Metric{"trackskills_stream_max_bytes", Gauge, nil,
		"Size limit of the events stream in bytes, 0 for none.", "stream"}

	databaseBytes = Metric{"trackskills_database_bytes", Gauge, nil,
		"Size of the SQLite file, without its WAL.", "database"}
	databaseWALBytes = Metric{"trackskills_database_wal_bytes", Gauge, nil,
		"Size of the SQLite write-ahead log, 0 when there is none.", "database"}
	databaseFreeBytes = Metric{"trackskills_database_fs_free_bytes", Gauge, nil,
		"Space left to the process on the file system of the SQLite file.", "database"}

	liveClients = Metric{"trackskills_analytics_live_clients", Gauge, nil,
		"Dashboards connected to the live feed.", "analytics"}
)

// catalog lists every metric, in the order of the docs.
var catalog = []Metric{
	httpRequests, httpDuration,
	ingestAccepted, ingestRejected, ingestPublishDuration, ingestPublishGroup, ingestPublishFailures,
	consumerBatchEvents, consumerCommitDuration, consumerBatches, consumerMessages, consumerWritten,
	consumerIgnored, consumerDeadLetters, consumerWriteFailures, consumerReady, consumerLagMessages, consumerLagSeconds,
	streamUp, streamMessages, streamBytes, streamMaxBytes,
	databaseBytes, databaseWALBytes, databaseFreeBytes,
	liveClients,
}

// Catalog returns every trackskills_ metric a process may expose; which
// ones it does depends on the parts it runs. The Go runtime (go_*) and
// process (process_*) metrics come besides.
func Catalog() []Metric {
	out := slices.Clone(catalog)
	for i := range out {
		out[i].Labels = slices.Clone(out[i].Labels)
	}
	return out
}
