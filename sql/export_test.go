package sql

// HashKey is hashKey, for tests that read the stored form.
var HashKey = hashKey

// SetExportChunkRows makes Export read n rows per query until the test
// ends.
func SetExportChunkRows(tb interface{ Cleanup(func()) }, n int) {
	old := exportChunkRows
	exportChunkRows = n
	tb.Cleanup(func() { exportChunkRows = old })
}
