package sql

// LogRow is one event of the session log as the session_log table of
// migration 0017 held it, for the tests of migration 0019.
type LogRow struct {
	TS    int64
	ID    []byte
	Code  int64
	Name  string
	Agent []byte
}

// ChunkRows decodes a chunk of session_chunks into log rows.
func ChunkRows(chunk []byte) ([]LogRow, error) {
	evs, err := decodeChunk(chunk, nil)
	if err != nil {
		return nil, err
	}
	out := make([]LogRow, len(evs))
	for i := range evs {
		ev := &evs[i]
		out[i] = LogRow{TS: ev.TS, ID: ev.ID, Code: logCode(ev), Name: ev.Name}
		if ev.Agent != "" {
			out[i].Agent = []byte(ev.Agent)
		}
	}
	return out, nil
}
