package main

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trackskills/trackskills/testkit"
)

// Ensure serve, where ingest and analytics share one echo, logs each
// request as the part that served it, and what neither serves as http,
// with neither the query string nor the client address.
func TestServe_RequestLogComponent(t *testing.T) {
	var logs testkit.LockedBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	app, err := startServe(context.Background(), serveOptions(t), func(string) string { return "" }, logger)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, path, body string
		wantStatus               int
		wantComponent            string
	}{
		{"Track", http.MethodPost, "/api/track", `{"tool_name":"log_probe","status":"success"}`, http.StatusOK, "ingest"},
		{"TrackInvalid", http.MethodPost, "/api/track", `{"tool_name":"log_probe","status":"nope"}`, http.StatusBadRequest, "ingest"},
		{"IngestNotFound", http.MethodPost, "/api/nope", `{}`, http.StatusNotFound, "ingest"},
		{"Summary", http.MethodGet, "/analytics/summary", "", http.StatusOK, "analytics"},
		{"AnalyticsBadParam", http.MethodGet, "/analytics/tools?days=0", "", http.StatusBadRequest, "analytics"},
		{"Dashboard", http.MethodGet, "/", "", http.StatusOK, "analytics"},
		{"Health", http.MethodGet, "/healthz", "", http.StatusOK, "http"},
		{"StrayPath", http.MethodGet, "/nope", "", http.StatusNotFound, "http"},
	}
	client := &http.Client{Timeout: 10 * time.Second}
	for _, tt := range tests {
		req, err := http.NewRequest(tt.method, app.URL()+tt.path, strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		_ = resp.Body.Close() // only the status matters
		if resp.StatusCode != tt.wantStatus {
			t.Fatalf("%s: %s %s status=%d, want %d", tt.name, tt.method, tt.path, resp.StatusCode, tt.wantStatus)
		}
	}
	// Close waits for the requests, so every request line is written.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := app.Close(ctx); err != nil {
		t.Fatalf("close serve: %v", err)
	}

	type line struct {
		Msg       string `json:"msg"`
		Component string `json:"component"`
		Method    string `json:"method"`
		Path      string `json:"path"`
		Status    int    `json:"status"`
	}
	got := map[string][]line{} // by method and path
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if l.Msg != "request" {
			continue
		}
		got[l.Method+" "+l.Path] = append(got[l.Method+" "+l.Path], l)
		if strings.Contains(sc.Text(), "days=") || strings.Contains(sc.Text(), "127.0.0.1") {
			t.Errorf("request line holds a query string or a client address: %s", sc.Text())
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, _, _ := strings.Cut(tt.path, "?")
			var found bool
			for _, l := range got[tt.method+" "+path] {
				if l.Status != tt.wantStatus {
					continue
				}
				found = true
				if l.Component != tt.wantComponent {
					t.Errorf("%s %s logged with component=%q, want %q", tt.method, path, l.Component, tt.wantComponent)
				}
			}
			if !found {
				t.Errorf("no request line for %s %s %d in %v", tt.method, path, tt.wantStatus, got)
			}
		})
	}
}
