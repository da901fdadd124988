package hookcmd

import (
	"errors"
	"fmt"
	"testing"

	"github.com/trackskills/trackskills/client"
)

// ChunkDone decides whether a chunk leaves the spool: only when it was
// stored or refused for good.
func TestChunkDone(t *testing.T) {
	refused := &client.APIError{Status: 400, Index: 3, Field: "tool_name"}
	tests := []struct {
		name string
		err  error
		done bool
	}{
		{"Stored", nil, true},
		{"OneEventRefused", errors.Join(refused), true},
		{"TwoEventsRefused", errors.Join(refused, &client.APIError{Status: 400, Index: 7}), true},
		{"RequestMalformed", &client.APIError{Status: 400, Index: -1}, true},
		{"RequestTooLarge", &client.APIError{Status: 413, Index: -1}, true},
		{"Network", &client.NetworkError{Err: errors.New("connection refused")}, false},
		{"Unavailable", &client.APIError{Status: 503, Index: -1}, false},
		{"WrongKey", &client.APIError{Status: 401, Index: -1}, false},
		{"RefusedThenUnavailable", errors.Join(refused, fmt.Errorf("send events: %w", &client.APIError{Status: 503, Index: -1})), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ChunkDone(tt.err); got != tt.done {
				t.Errorf("ChunkDone(%v) = %v, want %v", tt.err, got, tt.done)
			}
		})
	}
}
