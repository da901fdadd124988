package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trackskills/trackskills/ingest"
)

// Ensure a bad value, from a flag or the environment, is refused before
// the subcommand creates or starts anything: no data dir, no hash key, no
// database, no NATS store.
func TestRun_RefusesBadValuesBeforeStarting(t *testing.T) {
	for _, tt := range []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string // "usage": the flag package printed the error
	}{
		{"ServeEnvDuration", []string{"serve"}, map[string]string{"TRACKSKILLS_BATCH_WAIT": "soon"}, `TRACKSKILLS_BATCH_WAIT="soon": want a duration such as 50ms or 90d`},
		{"ServeEnvBool", []string{"serve"}, map[string]string{"TRACKSKILLS_NATS_SYNC_ALWAYS": "maybe"}, `TRACKSKILLS_NATS_SYNC_ALWAYS="maybe": want true or false`},
		{"ServeFlagDuration", []string{"serve", "--batch-wait", "soon"}, nil, "usage"},
		{"ServeOpenWithoutKeys", []string{"serve", "--http-addr", "0.0.0.0:0"}, nil, "no ingest keys"},
		{"ServeOpenWithoutReadKeys", []string{"serve", "--http-addr", "0.0.0.0:0", "--ingest-keys", "k"}, nil, "no read keys"},
		{"ServeMissingKeyFile", []string{"serve", "--ingest-keys", "@/nonexistent/keys"}, nil, "ingest keys"},
		{"ServeBadProxies", []string{"serve", "--trusted-proxies", "not-an-ip"}, nil, "not-an-ip"},
		{"ServeBadLogLevel", []string{"serve", "--log-level", "loud"}, nil, "log level"},
		{"ServeBadLogLevelWithProfile", []string{"serve", "--log-level", "loud", "--cpu-profile", "DATA/cpu.prof"}, nil, "log level"},
		{"ServeBadLogFormat", []string{"serve", "--log-format", "xml"}, nil, "log format"},
		{"ServeRemoteNATS", []string{"serve", "--nats-addr", "0.0.0.0:0"}, nil, "allow-remote-nats"},
		{"ServeBadNATSAddr", []string{"serve", "--nats-addr", "127.0.0.1:http"}, nil, "nats address"},
		{"ServeBadBatch", []string{"serve", "--batch-events", "0"}, nil, "batch size"},
		{"ServeBadReplicas", []string{"serve", "--stream-replicas", "9"}, nil, "replicas"},
		{"ServeNegativeRetention", []string{"serve", "--retention-raw", "-1h"}, nil, "negative"},
		{"NATSRemote", []string{"nats", "--nats-addr", "0.0.0.0:0"}, nil, "allow-remote-nats"},
		{"NATSBadReplicas", []string{"nats", "--stream-replicas", "0"}, nil, "replicas"},
		{"NATSEnvInt", []string{"nats"}, map[string]string{"TRACKSKILLS_NATS_MAX_STORE": "1GB"}, `TRACKSKILLS_NATS_MAX_STORE="1GB": want an integer`},
		{"IngestOpenWithoutKeys", []string{"ingest", "--http-addr", "0.0.0.0:1"}, nil, "no ingest keys"},
		{"IngestBadProxies", []string{"ingest", "--trusted-proxies", "10.0.0.0/99"}, nil, "10.0.0.0/99"},
		{"IngestEnvFloat", []string{"ingest"}, map[string]string{"TRACKSKILLS_RATE_LIMIT": "fast"}, `TRACKSKILLS_RATE_LIMIT="fast": want a number`},
		{"ConsumerBadBatch", []string{"consumer", "--batch-events", "0"}, nil, "batch size"},
		{"ConsumerBadAckWait", []string{"consumer", "--ack-wait", "1ms"}, nil, "ack wait"},
		{"ConsumerEnvInt", []string{"consumer"}, map[string]string{"TRACKSKILLS_BATCH_EVENTS": "many"}, `TRACKSKILLS_BATCH_EVENTS="many": want an integer`},
		{"AnalyticsOpenWithoutKeys", []string{"analytics", "--http-addr", "0.0.0.0:1"}, nil, "no read keys"},
		{"ServePublicHostURL", []string{"serve", "--public-host", "https://dash.example.com"}, nil, "public host"},
		{"IngestEnvPublicHostPath", []string{"ingest"}, map[string]string{"TRACKSKILLS_PUBLIC_HOST": "dash.example.com/x"}, "public host"},
		{"AnalyticsPublicHostURL", []string{"analytics", "--public-host", "ok.example,http://x"}, nil, "public host"},
		{"AnalyticsBadProxies", []string{"analytics", "--trusted-proxies", "not-an-ip"}, nil, "not-an-ip"},
		{"IngestEnvKeyRate", []string{"ingest"}, map[string]string{"TRACKSKILLS_KEY_RATE_LIMIT": "fast"}, `TRACKSKILLS_KEY_RATE_LIMIT="fast": want a number`},
		{"ServeTrimLowAboveHigh", []string{"serve", "--stream-trim-high", "60", "--stream-trim-low", "80"}, nil, "low-water"},
		{"NATSEnvTrimPercent", []string{"nats"}, map[string]string{"TRACKSKILLS_STREAM_TRIM_HIGH": "lots"}, `TRACKSKILLS_STREAM_TRIM_HIGH="lots": want a percentage from 0 to 100`},
		{"NATSTrimOver100", []string{"nats", "--stream-trim-high", "120%"}, nil, "usage"},
		{"SeedBadDays", []string{"seed", "--days", "0"}, nil, "--days"},
		{"SeedEnvInt", []string{"seed"}, map[string]string{"TRACKSKILLS_EVENTS": "lots"}, `TRACKSKILLS_EVENTS="lots": want an integer`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			args := append([]string(nil), tt.args...)
			for i, a := range args {
				args[i] = strings.ReplaceAll(a, "DATA", data)
			}
			args = append(args, "--data-dir", data)
			var out bytes.Buffer
			err := run(context.Background(), args, func(k string) string { return tt.env[k] }, &out, &out)
			switch {
			case err == nil:
				t.Fatalf("err=nil, want one containing %q", tt.wantErr)
			case tt.wantErr == "usage" && !errors.Is(err, errUsage):
				t.Fatalf("err=%v, want a usage error", err)
			case tt.wantErr != "usage" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("err=%v, want one containing %q", err, tt.wantErr)
			}
			if _, err := os.Stat(data); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("the data dir exists after a refused start (stat: %v)", err)
			}
		})
	}
}

// Ensure the stream settings given by a flag or its environment twin are
// marked given, and only those: a part changes only them on a stream that
// exists.
func TestOptions_Parse_StreamGiven(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		want ingest.StreamSettings
	}{
		{"none", nil, nil, ingest.StreamSettings{}},
		{"flag", []string{"--stream-max-bytes", "1048576"}, nil, ingest.StreamSettings{MaxBytes: true}},
		{"environment", nil, map[string]string{"TRACKSKILLS_STREAM_MAX_BYTES": "1048576"}, ingest.StreamSettings{MaxBytes: true}},
		{"zero is given too", []string{"--stream-max-bytes", "0"}, nil, ingest.StreamSettings{MaxBytes: true}},
		{"retention sets the age", []string{"--retention-raw", "30d"}, nil, ingest.StreamSettings{MaxAge: true}},
		{"every one", []string{"--stream-max-age", "1h", "--stream-duplicates", "1m", "--stream-replicas", "1"}, nil,
			ingest.StreamSettings{MaxAge: true, Duplicates: true, Replicas: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string { return tt.env[k] }
			f := newCmdFlags("ingest", "", getenv, io.Discard)
			o := defaultOptions()
			o.registerStream(f)
			o.log.register(f)
			if _, err := o.parse(f, tt.args, io.Discard); err != nil {
				t.Fatal(err)
			}
			if o.stream.Given != tt.want {
				t.Fatalf("given %+v, want %+v", o.stream.Given, tt.want)
			}
		})
	}
}
