package trackskills

// Names shared by the publisher (ingest) and the reader (consumer).
const (
	// StreamName is the JetStream stream that holds every event.
	StreamName = "TRACKSKILLS_EVENTS"
	// SubjectPrefix is the prefix of every event subject.
	SubjectPrefix = "trackskills.events."
	// StreamSubjects is the subject filter of the stream.
	StreamSubjects = SubjectPrefix + ">"
	// SubjectIngest is the subject ingest publishes to.
	SubjectIngest = SubjectPrefix + "ingest"
	// ConsumerName is the durable name of the SQLite consumer.
	ConsumerName = "trackskills-sqlite"
	// SchemaHeader names the payload schema version of a message.
	SchemaHeader = "Trackskills-Schema"
	// SchemaV1 is the current payload schema: NDJSON, one Event a line.
	SchemaV1 = "1"
	// EncodingHeader names how the payload is compressed; absent means not.
	EncodingHeader = "Trackskills-Encoding"
	// EncodingS2 is S2 block compression (github.com/klauspost/compress/s2).
	EncodingS2 = "s2"
)
