package ingest_test

import (
	"net/http"
	"strings"
	"testing"
)

// BenchmarkClaudeHook_Large posts a PostToolUse hook of about 8 MB (a Read
// of a large file: the bulk in tool_response); B/op is the memory one such
// body costs the server.
func BenchmarkClaudeHook_Large(b *testing.B) {
	srv, _ := MustServer(b, testConfig())
	body := `{"hook_event_name":"PostToolUse","session_id":"s1","tool_name":"Read","tool_use_id":"toolu_bench",` +
		`"tool_input":{"file_path":"/big.txt"},"tool_response":{"type":"text","file":{"content":"` +
		strings.Repeat("x", 8<<20-512) + `"}},"duration_ms":12}`
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if r := postHook(srv, body); r.code != http.StatusOK {
			b.Fatalf("code %d: %s", r.code, r.body)
		}
	}
}
