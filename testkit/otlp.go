package testkit

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/trackskills/trackskills/otlp"
)

// The OTLP JSON fixtures of Claude Code's events and spans, from the
// module's root.
const (
	ClaudeCodeLogsFile   = "otlp/testdata/logs/claude_code.json"
	ClaudeCodeTracesFile = "otlp/testdata/traces/claude_code.json"
)

// ClaudeCodeLogs reads the fixture of Claude Code's events (an export of
// OTLP logs) with its records moved to end at now, a millisecond apart, so
// that ingest takes them as recent.
func ClaudeCodeLogs(tb testing.TB, now time.Time) *logspb.LogsData {
	tb.Helper()
	req, err := otlp.DecodeLogs(moduleFile(tb, ClaudeCodeLogsFile), otlp.JSON)
	if err != nil {
		tb.Fatal(err)
	}
	var recs int
	for _, rl := range req.ResourceLogs {
		for _, sl := range rl.ScopeLogs {
			recs += len(sl.LogRecords)
		}
	}
	at := now.Add(-time.Duration(recs) * time.Millisecond)
	for _, rl := range req.ResourceLogs {
		for _, sl := range rl.ScopeLogs {
			for _, rec := range sl.LogRecords {
				at = at.Add(time.Millisecond)
				rec.TimeUnixNano = uint64(at.UnixNano())
			}
		}
	}
	return req
}

// ClaudeCodeTraces reads the fixture of Claude Code's spans (an export of
// one interaction's tool calls) moved so that its first span starts a
// minute before now, the spans keeping their times relative to each other.
func ClaudeCodeTraces(tb testing.TB, now time.Time) *tracepb.TracesData {
	tb.Helper()
	req, err := otlp.DecodeTraces(moduleFile(tb, ClaudeCodeTracesFile), otlp.JSON)
	if err != nil {
		tb.Fatal(err)
	}
	var first uint64
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				if first == 0 || s.StartTimeUnixNano < first {
					first = s.StartTimeUnixNano
				}
			}
		}
	}
	shift := uint64(now.Add(-time.Minute).UnixNano()) - first
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				s.StartTimeUnixNano += shift
				s.EndTimeUnixNano += shift
			}
		}
	}
	return req
}

// moduleFile reads the file at rel from the module's root.
func moduleFile(tb testing.TB, rel string) []byte {
	tb.Helper()
	body, err := os.ReadFile(filepath.Join(ModuleRoot(tb), rel))
	if err != nil {
		tb.Fatal(err)
	}
	return body
}

// ModuleRoot is the directory of the module's go.mod, found from the
// working directory up.
func ModuleRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}
