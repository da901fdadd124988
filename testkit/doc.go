// Package testkit holds the test helpers shared by every package's tests:
// an embedded JetStream server in a temporary directory (or a cluster of
// them, MustRunCluster), a temporary SQLite database, Eventually, a test
// logger, a locked buffer, an HTTP client that stops reading
// (MustStallGET), and building and running the trackskills binary as a
// process.
//
// The helpers use the real parts, never mocks: a real nats-server and real
// SQLite files. They take a testing.TB, call tb.Helper, and the Must*
// helpers release what they create in tb.Cleanup.
//
// testkit is imported only by _test.go files, and only by external test
// packages (package consumer_test): it imports the packages under test
// (embeddednats, ingest, sql), so an internal test file of one of them
// (package sql) that imported it would make an import cycle.
package testkit
