package trackskills

// The names of the stream, shared by the publisher (ingest) and the readers
// (the consumer, the live feed). The durable consumer that writes a
// database is named by the database itself (sql.Identity). What a message
// carries, its payload and headers, is package wire's.
const (
	// StreamName is the JetStream stream that holds every event.
	StreamName = "TRACKSKILLS_EVENTS"
	// SubjectPrefix is the prefix of every event subject.
	SubjectPrefix = "trackskills.events."
	// StreamSubjects is the subject filter of the stream.
	StreamSubjects = SubjectPrefix + ">"
	// SubjectIngest is the subject ingest publishes to.
	SubjectIngest = SubjectPrefix + "ingest"
)
