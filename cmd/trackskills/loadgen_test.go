package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadgen_Flags(t *testing.T) {
	env := func(m map[string]string) func(string) string {
		return func(k string) string { return m[k] }
	}

	t.Run("EnvDefault", func(t *testing.T) {
		cfg, err := parseLoadgenFlags([]string{"--connections", "3"}, env(map[string]string{
			"TRACKSKILLS_CONNECTIONS": "9",
			"TRACKSKILLS_BATCH_SIZE":  "250",
			"TRACKSKILLS_ERROR_RATE":  "0.2",
			"TRACKSKILLS_JSON":        "true",
			"TRACKSKILLS_KEY":         "secret",
		}), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := cfg.Connections, 3; got != want { // the command line wins
			t.Fatalf("connections=%d, want %d", got, want)
		}
		if got, want := cfg.BatchSize, 250; got != want {
			t.Fatalf("batch size=%d, want %d", got, want)
		}
		if got, want := cfg.ErrorRate, 0.2; got != want {
			t.Fatalf("error rate=%v, want %v", got, want)
		}
		if got, want := cfg.Key, "secret"; got != want || !cfg.json {
			t.Fatalf("key=%q json=%v, want %q true", got, cfg.json, want)
		}
		if got, want := cfg.Duration, 10*time.Second; got != want {
			t.Fatalf("duration=%v, want %v", got, want)
		}
	})

	t.Run("CountWithoutDuration", func(t *testing.T) {
		cfg, err := parseLoadgenFlags([]string{"--count", "5"}, env(nil), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := cfg.Duration, time.Duration(0); got != want {
			t.Fatalf("duration=%v, want %v", got, want)
		}
	})

	t.Run("Help", func(t *testing.T) {
		var stderr bytes.Buffer
		err := runLoadgen(context.Background(), []string{"--help"}, env(nil), io.Discard, &stderr)
		if err != nil {
			t.Fatalf("err=%v, want nil", err)
		}
		for _, s := range []string{"-batch-size", "TRACKSKILLS_BATCH_SIZE", "-error-rate", "-db"} {
			if !strings.Contains(stderr.String(), s) {
				t.Fatalf("usage misses %q:\n%s", s, stderr.String())
			}
		}
	})

	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"ErrMode", []string{"--mode", "stream"}, nil},
		{"ErrBatchSize", []string{"--batch-size", "1001"}, nil},
		{"ErrURL", []string{"--url", "localhost:8080"}, nil},
		{"ErrErrorRate", []string{"--error-rate", "1.5"}, nil},
		{"ErrEnvValue", nil, map[string]string{"TRACKSKILLS_COUNT": "many"}},
		{"ErrUnknownFlag", []string{"--nope"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := parseLoadgenFlags(tt.args, env(tt.env), io.Discard); err == nil {
				t.Fatal("err=nil, want an error")
			}
		})
	}
}

// The subcommand prints the report and fails when no event was
// acknowledged; the engine itself is tested in package loadgen.
func TestLoadgen_Run(t *testing.T) {
	env := func(string) string { return "" }
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"success":true,"message":"Event tracked"}`) // a write error shows in the client
	}))
	defer ok.Close()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"success":false,"error":"stream unavailable"}`) // a write error shows in the client
	}))
	defer down.Close()

	t.Run("Text", func(t *testing.T) {
		var stdout bytes.Buffer
		if err := runLoadgen(context.Background(), []string{"--url", ok.URL, "--count", "20"}, env, &stdout, io.Discard); err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"acked        20\n", "status codes 200=20", "latency ms   p50="} {
			if !strings.Contains(stdout.String(), s) {
				t.Fatalf("report misses %q:\n%s", s, stdout.String())
			}
		}
	})

	t.Run("JSON", func(t *testing.T) {
		var stdout bytes.Buffer
		if err := runLoadgen(context.Background(), []string{"--url", ok.URL, "--count", "20", "--json"}, env, &stdout, io.Discard); err != nil {
			t.Fatal(err)
		}
		var r struct {
			Acked int64 `json:"acked"`
		}
		if err := json.Unmarshal(stdout.Bytes(), &r); err != nil || r.Acked != 20 {
			t.Fatalf("report %s: %v, want acked 20", stdout.String(), err)
		}
	})

	t.Run("ErrNoAck", func(t *testing.T) {
		var stdout bytes.Buffer
		err := runLoadgen(context.Background(), []string{"--url", down.URL, "--count", "10", "--json"}, env, &stdout, io.Discard)
		if err == nil || err.Error() != "no event was acknowledged" {
			t.Fatalf("err=%v, want no event was acknowledged", err)
		}
		var r struct {
			Failed      int64            `json:"failed"`
			StatusCodes map[string]int64 `json:"status_codes"`
		}
		if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
			t.Fatalf("decode report: %v\n%s", err, stdout.String())
		}
		if got, want := r.Failed, int64(10); got != want {
			t.Fatalf("failed=%d, want %d", got, want)
		}
		if got, want := r.StatusCodes["503"], int64(10); got != want {
			t.Fatalf("status 503=%d, want %d", got, want)
		}
	})

	t.Run("ErrNoDB", func(t *testing.T) {
		empty := filepath.Join(t.TempDir(), "empty.db")
		err := runLoadgen(context.Background(), []string{"--db", empty}, env, io.Discard, io.Discard)
		if err == nil || errors.Is(err, errUsage) {
			t.Fatalf("err=%v, want an open db error", err)
		}
	})
}
