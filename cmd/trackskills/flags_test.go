package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Ensure every flag takes its default from its TRACKSKILLS_ twin.
func TestCmdFlags_Env(t *testing.T) {
	env := map[string]string{
		"TRACKSKILLS_DATA_DIR":       "/tmp/x",
		"TRACKSKILLS_BATCH_EVENTS":   "7",
		"TRACKSKILLS_STREAM_MAX_AGE": "30d",
		"TRACKSKILLS_BATCH_WAIT":     "15ms",
	}
	f := newCmdFlags("serve", "", func(k string) string { return env[k] }, io.Discard)
	o := defaultOptions()
	o.registerData(f)
	o.registerStream(f)
	o.registerConsumer(f)
	if err := f.parse([]string{"--batch-events", "9"}); err != nil {
		t.Fatal(err)
	}
	o.applyRetention()
	if got, want := o.dataDir, "/tmp/x"; got != want {
		t.Fatalf("data dir=%q, want %q", got, want)
	}
	if got, want := o.consumer.BatchEvents, 9; got != want {
		t.Fatalf("batch events=%d, want %d (flag beats env)", got, want)
	}
	if got, want := o.stream.MaxAge, 30*24*time.Hour; got != want {
		t.Fatalf("max age=%s, want %s", got, want)
	}
	if got, want := o.consumer.BatchWait, 15*time.Millisecond; got != want {
		t.Fatalf("batch wait=%s, want %s", got, want)
	}
	bad := newCmdFlags("serve", "", func(k string) string {
		if k == "TRACKSKILLS_BATCH_EVENTS" {
			return "many"
		}
		return ""
	}, io.Discard)
	o.registerConsumer(bad)
	if err := bad.parse(nil); err == nil || !strings.Contains(err.Error(), "TRACKSKILLS_BATCH_EVENTS") {
		t.Fatalf("err=%v, want one naming TRACKSKILLS_BATCH_EVENTS", err)
	}
}

// Ensure key values given through the environment are never printed, not
// even in --help or after a bad flag.
func TestCmdFlags_SecretsNotPrinted(t *testing.T) {
	env := map[string]string{"TRACKSKILLS_INGEST_KEYS": "s3cr3t-ingest", "TRACKSKILLS_KEY": "s3cr3t-loadgen"}
	getenv := func(k string) string { return env[k] }
	for _, args := range [][]string{{"ingest", "--help"}, {"ingest", "--bogus"}, {"serve", "--help"}, {"loadgen", "--help"}, {"loadgen", "--bogus"}} {
		var out bytes.Buffer
		_ = run(context.Background(), args, getenv, &out, &out) // only the output matters
		for _, secret := range env {
			if strings.Contains(out.String(), secret) {
				t.Fatalf("%v printed a key:\n%s", args, out.String())
			}
		}
	}
}

// Ensure an environment value that does not parse is refused with the
// variable, the value and the form wanted, and a key's value never shows.
func TestFlagsFromEnv_Errors(t *testing.T) {
	for _, tt := range []struct {
		name, env, value string
		want             string
	}{
		{"Duration", "TRACKSKILLS_BATCH_WAIT", "soon", `TRACKSKILLS_BATCH_WAIT="soon": want a duration such as 50ms or 90d`},
		{"Days", "TRACKSKILLS_RETENTION_RAW", "ninety d", `TRACKSKILLS_RETENTION_RAW="ninety d": want a duration such as 50ms or 90d`},
		{"Int", "TRACKSKILLS_BATCH_EVENTS", "many", `TRACKSKILLS_BATCH_EVENTS="many": want an integer`},
		{"Int64", "TRACKSKILLS_NATS_MAX_STORE", "1GB", `TRACKSKILLS_NATS_MAX_STORE="1GB": want an integer`},
		{"Uint", "TRACKSKILLS_SEED", "-1", `TRACKSKILLS_SEED="-1": want a non-negative integer`},
		{"Float", "TRACKSKILLS_RATE_LIMIT", "fast", `TRACKSKILLS_RATE_LIMIT="fast": want a number`},
		{"Bool", "TRACKSKILLS_NATS_SYNC_ALWAYS", "maybe", `TRACKSKILLS_NATS_SYNC_ALWAYS="maybe": want true or false`},
		{"SecretHidden", "TRACKSKILLS_MAX_KEYS", "s3cr3t", `TRACKSKILLS_MAX_KEYS: want an integer`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newCmdFlags("test", "", func(k string) string {
				if k == tt.env {
					return tt.value
				}
				return ""
			}, io.Discard)
			o := defaultOptions()
			o.registerHTTP(f)
			o.registerNATSServer(f)
			o.registerConsumer(f)
			var seed uint64
			var maxKeys int
			f.Uint64Var(&seed, "seed", 1, "")
			f.IntVar(&maxKeys, "max-keys", 0, "a made-up key flag that does not parse")
			err := f.parse(nil)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("err=%v, want %s", err, tt.want)
			}
			if secretFlag(strings.TrimPrefix(strings.ToLower(strings.ReplaceAll(tt.env, "_", "-")), "trackskills-")) && strings.Contains(err.Error(), tt.value) {
				t.Fatalf("the error prints a key: %v", err)
			}
		})
	}
}

// Ensure every flag of a long-running subcommand defaults from
// defaultOptions: the flag set adds no default of its own.
func TestDefaultOptions_AreTheFlagDefaults(t *testing.T) {
	o := defaultOptions()
	f := newCmdFlags("serve", "", func(string) string { return "" }, io.Discard)
	o.log.register(f)
	o.registerData(f)
	o.registerHTTP(f)
	o.registerAnalytics(f)
	o.registerNATSServer(f)
	o.registerStream(f)
	o.registerConsumer(f)
	o.registerShutdown(f)
	if err := f.parse(nil); err != nil {
		t.Fatal(err)
	}
	o.applyRetention()
	want := defaultOptions()
	want.applyRetention()
	if o.dataDir != want.dataDir || o.httpAddr != want.httpAddr || o.natsAddr != want.natsAddr || o.log != want.log ||
		!reflect.DeepEqual(o.stream, want.stream) || o.consumer != want.consumer || o.shutdownTimeout != want.shutdownTimeout {
		t.Fatalf("parsed defaults %+v, want %+v", o, want)
	}
	var names []string
	f.VisitAll(func(fl *flag.Flag) { names = append(names, fl.Name) })
	if len(names) < 25 {
		t.Fatalf("serve registers %d flags: %v", len(names), names)
	}
	if got, want := want.stream.MaxAge, want.retentionRaw; got != want {
		t.Fatalf("stream max age=%v, want it to follow retention %v", got, want)
	}
}

// Ensure the documented defaults are what each subcommand's --help prints:
// defaultOptions is the one place they are set, and the README and the
// contract promise these values.
func TestRun_HelpDefaults(t *testing.T) {
	for _, tt := range []struct {
		cmd, flag, want string
	}{
		{"serve", "data-dir", "./data"},
		{"serve", "http-addr", "127.0.0.1:8080"},
		{"serve", "nats-addr", "127.0.0.1:4222"},
		{"serve", "log-level", "info"},
		{"serve", "log-format", "text"},
		{"serve", "retention-raw", "90d"},
		{"serve", "retention-aggregates", "400d"},
		{"serve", "stream-duplicates", "2m0s"},
		{"serve", "stream-replicas", "1"},
		{"serve", "batch-events", "1000"},
		{"serve", "batch-wait", "200ms"},
		{"serve", "ack-wait", "4s"},
		{"serve", "shutdown-timeout", "10s"},
		{"nats", "nats-addr", "127.0.0.1:4222"},
		{"ingest", "http-addr", "127.0.0.1:8080"},
		{"ingest", "nats-url", "nats://127.0.0.1:4222"},
		{"consumer", "nats-url", "nats://127.0.0.1:4222"},
		{"analytics", "http-addr", "127.0.0.1:8081"},
		{"analytics", "nats-url", "nats://127.0.0.1:4222"},
	} {
		t.Run(tt.cmd+"/"+tt.flag, func(t *testing.T) {
			var stderr strings.Builder
			err := run(context.Background(), []string{tt.cmd, "--help"}, func(string) string { return "" }, io.Discard, &stderr)
			if err != nil {
				t.Fatalf("%s --help: %v", tt.cmd, err)
			}
			lines := strings.Split(stderr.String(), "\n")
			for i, line := range lines {
				if strings.HasPrefix(line, "  --"+tt.flag+" (") && i+1 < len(lines) {
					if want := fmt.Sprintf("(default %q)", tt.want); !strings.HasSuffix(lines[i+1], want) {
						t.Fatalf("--%s: %q, want it to end in %s", tt.flag, lines[i+1], want)
					}
					return
				}
			}
			t.Fatalf("%s --help lists no --%s:\n%s", tt.cmd, tt.flag, stderr.String())
		})
	}
}

// Ensure --public-host is repeatable and takes comma lists, and that the
// command line replaces its environment twin rather than adding to it.
func TestListFlag_PublicHost(t *testing.T) {
	for _, tt := range []struct {
		name string
		env  string
		args []string
		want []string
	}{
		{"None", "", nil, nil},
		{"Env", "a.example, b.example", nil, []string{"a.example", "b.example"}},
		{"Repeated", "", []string{"--public-host", "c.example", "--public-host", "d.example,e.example"}, []string{"c.example", "d.example", "e.example"}},
		{"FlagBeatsEnv", "a.example", []string{"--public-host", "c.example", "--public-host", "d.example"}, []string{"c.example", "d.example"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newCmdFlags("ingest", "", func(k string) string {
				if k == "TRACKSKILLS_PUBLIC_HOST" {
					return tt.env
				}
				return ""
			}, io.Discard)
			o := defaultOptions()
			o.registerHTTP(f)
			if err := f.parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(o.publicHosts) != fmt.Sprint(tt.want) {
				t.Errorf("public hosts %q, want %q", o.publicHosts, tt.want)
			}
		})
	}
}

// Ensure --help of the commands that take keys says that keys on the
// command line show in the process list, and what to use instead.
func TestRun_HelpWarnsOfKeysInProcessList(t *testing.T) {
	for _, cmd := range []string{"serve", "ingest", "analytics"} {
		var out bytes.Buffer
		if err := run(context.Background(), []string{cmd, "--help"}, func(string) string { return "" }, &out, &out); err != nil {
			t.Fatalf("%s --help: %v", cmd, err)
		}
		if got := out.String(); !strings.Contains(got, "visible to other local users in the process list") || !strings.Contains(got, "prefer @file") {
			t.Errorf("%s --help does not warn of keys in the process list:\n%s", cmd, got)
		}
	}
}
