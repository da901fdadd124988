package main

import (
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/trackskills/trackskills/analytics"
	"github.com/trackskills/trackskills/consumer"
	"github.com/trackskills/trackskills/embeddednats"
	"github.com/trackskills/trackskills/ingest"
	"github.com/trackskills/trackskills/sql"
)

// options holds every flag of the long-running subcommands; each
// subcommand registers the groups it uses.
type options struct {
	log logOptions

	dataDir string
	db      string

	httpAddr       string
	ingestKeys     string
	allowNoKeys    bool
	trustedProxies string
	rateLimit      float64
	storeSkillArgs bool

	natsAddr        string
	natsURL         string
	natsSyncAlways  bool
	natsMaxStore    int64
	allowRemoteNATS bool

	stream       ingest.StreamConfig
	retentionRaw time.Duration

	readKeys     string
	allowOrigins string

	consumer consumer.Config

	shutdownTimeout time.Duration
}

func (o *options) registerDataDir(f *cmdFlags) {
	f.StringVar(&o.dataDir, "data-dir", "./data", "directory of the JetStream store, the SQLite file and the hash key")
}

func (o *options) registerData(f *cmdFlags) {
	o.registerDataDir(f)
	f.StringVar(&o.db, "db", "", "the SQLite file (default <data-dir>/trackskills.db)")
}

func (o *options) registerHTTP(f *cmdFlags, def string) {
	f.StringVar(&o.httpAddr, "http-addr", def, "HTTP listen address (host:port)")
	f.StringVar(&o.ingestKeys, "ingest-keys", "", "accepted ingest keys, comma-separated, or @file with one a line; clients send Authorization: Bearer <key>")
	f.BoolVar(&o.allowNoKeys, "allow-no-keys", false, "allow an HTTP address beyond loopback without ingest or read keys (anyone who can reach it can send events or read analytics)")
	f.StringVar(&o.trustedProxies, "trusted-proxies", "", "proxies (IPs or CIDRs, comma-separated) whose X-Forwarded-For, X-Real-IP or CF-Connecting-IP header names the client")
	f.Float64Var(&o.rateLimit, "rate-limit", 0, "requests per second allowed to one client IP on /api (0 = no limit); over it: 429")
	f.BoolVar(&o.storeSkillArgs, "store-skill-args", false, "keep the arguments of skills called through Claude Code hooks in the metadata (they can hold anything the user typed)")
}

func (o *options) registerAnalytics(f *cmdFlags) {
	f.StringVar(&o.readKeys, "read-keys", "", "keys accepted by /analytics, comma-separated, or @file; clients send x-api-key: <key> or Authorization: Bearer <key>")
	f.StringVar(&o.allowOrigins, "cors-origins", "", "origins allowed to call /analytics from a browser, comma-separated (e.g. https://dash.example.com)")
}

// analyticsConfig checks the read-key settings and builds the API's config.
func (o *options) analyticsConfig() (analytics.Config, error) {
	var cfg analytics.Config
	keys, err := splitList(o.readKeys)
	if err != nil {
		return cfg, fmt.Errorf("read keys: %w", err)
	}
	if len(keys) == 0 && !isLoopback(o.httpAddr) && !o.allowNoKeys {
		return cfg, fmt.Errorf("http address %s is reachable beyond this machine and no read keys are set: set --read-keys (TRACKSKILLS_READ_KEYS), or pass --allow-no-keys to let anyone read the analytics", o.httpAddr)
	}
	origins, err := splitList(o.allowOrigins)
	if err != nil {
		return cfg, fmt.Errorf("cors origins: %w", err)
	}
	cfg.ReadKeys, cfg.AllowOrigins = keys, origins
	return cfg, nil
}

func (o *options) registerNATSServer(f *cmdFlags) {
	f.StringVar(&o.natsAddr, "nats-addr", "127.0.0.1:4222", "where the embedded NATS server listens (host:port)")
	f.BoolVar(&o.natsSyncAlways, "nats-sync-always", false, "fsync JetStream on every write before acknowledging it (survives a power cut, slower); otherwise a 2xx survives a process crash and the store is synced every 2 minutes")
	f.Int64Var(&o.natsMaxStore, "nats-max-store", 0, "cap on the JetStream file store in bytes (0 = no cap)")
	f.BoolVar(&o.allowRemoteNATS, "allow-remote-nats", false, "allow the NATS server to listen beyond loopback (it has no authentication)")
}

func (o *options) registerNATSClient(f *cmdFlags) {
	f.StringVar(&o.natsURL, "nats-url", "nats://127.0.0.1:4222", "NATS server(s) to connect to, comma-separated")
}

func (o *options) registerStream(f *cmdFlags) {
	d := ingest.DefaultStreamConfig()
	f.duration(&o.stream.MaxAge, "stream-max-age", 0, "events older than this leave the stream (e.g. 90d, 720h); 0 follows --retention-raw")
	o.registerRetention(f)
	f.Int64Var(&o.stream.MaxBytes, "stream-max-bytes", 0, "size cap of the stream in bytes; when full, ingest answers 503 (0 = no cap)")
	f.duration(&o.stream.Duplicates, "stream-duplicates", d.Duplicates, "Nats-Msg-Id deduplication window")
	f.IntVar(&o.stream.Replicas, "stream-replicas", d.Replicas, "stream replicas (on a NATS cluster)")
}

// registerRetention registers --retention-raw once, for the stream and the
// consumer alike.
func (o *options) registerRetention(f *cmdFlags) {
	if f.Lookup("retention-raw") != nil {
		return
	}
	f.duration(&o.retentionRaw, "retention-raw", consumer.DefaultConfig().RetentionRaw, "raw events older than this are deleted from SQLite (in small chunks) and leave the stream; 0 keeps them")
}

// applyRetention makes the stream and the consumer follow --retention-raw
// unless --stream-max-age says otherwise.
func (o *options) applyRetention() {
	if o.stream.MaxAge == 0 {
		o.stream.MaxAge = o.retentionRaw
	}
	o.consumer.RetentionRaw = o.retentionRaw
}

func (o *options) registerConsumer(f *cmdFlags) {
	d := consumer.DefaultConfig()
	o.consumer = d
	o.registerRetention(f)
	f.duration(&o.consumer.RetentionAggregates, "retention-aggregates", d.RetentionAggregates, "aggregate rows older than this are deleted; 0 keeps them")
	f.IntVar(&o.consumer.BatchEvents, "batch-events", d.BatchEvents, "close a consumer batch (one SQLite transaction) at this many events")
	f.duration(&o.consumer.BatchWait, "batch-wait", d.BatchWait, "or this long after its first message")
	f.duration(&o.consumer.AckWait, "ack-wait", d.AckWait, "redelivery delay of a message the consumer did not acknowledge")
}

func (o *options) registerShutdown(f *cmdFlags) {
	f.duration(&o.shutdownTimeout, "shutdown-timeout", 10*time.Second, "longest graceful shutdown; a second signal cuts it short")
}

func (o *options) dbPath() string {
	if o.db != "" {
		return o.db
	}
	return filepath.Join(o.dataDir, "trackskills.db")
}

// ingestConfig checks the HTTP security settings and builds ingest's config.
func (o *options) ingestConfig() (ingest.Config, error) {
	cfg := ingest.DefaultConfig()
	keys, err := splitList(o.ingestKeys)
	if err != nil {
		return cfg, fmt.Errorf("ingest keys: %w", err)
	}
	if len(keys) == 0 && !isLoopback(o.httpAddr) && !o.allowNoKeys {
		return cfg, fmt.Errorf("http address %s is reachable beyond this machine and no ingest keys are set: set --ingest-keys (TRACKSKILLS_INGEST_KEYS), or pass --allow-no-keys to accept events from anyone", o.httpAddr)
	}
	proxies, err := splitList(o.trustedProxies)
	if err != nil {
		return cfg, fmt.Errorf("trusted proxies: %w", err)
	}
	if cfg.TrustedProxies, err = ingest.ParseCIDRs(proxies); err != nil {
		return cfg, err
	}
	cfg.Keys, cfg.RateLimit, cfg.StoreSkillArgs = keys, o.rateLimit, o.storeSkillArgs
	return cfg, nil
}

func (o *options) natsConfig() (embeddednats.Config, error) {
	if !isLoopback(o.natsAddr) && !o.allowRemoteNATS {
		return embeddednats.Config{}, fmt.Errorf("nats address %s is reachable beyond this machine and the embedded server has no authentication: bind it to 127.0.0.1, or pass --allow-remote-nats", o.natsAddr)
	}
	cfg := embeddednats.DefaultConfig()
	cfg.Addr = o.natsAddr
	cfg.StoreDir = filepath.Join(o.dataDir, "nats")
	cfg.SyncAlways = o.natsSyncAlways
	cfg.MaxStore = o.natsMaxStore
	return cfg, nil
}

// migrationLog logs the migrations Open applies: on a large database a
// backfill can take a while, and a silent start looks like a hang.
func migrationLog(logger *slog.Logger) sql.Option {
	return sql.WithLogf(func(format string, args ...any) {
		logger.Info(fmt.Sprintf(format, args...), "component", "sql")
	})
}

// parse parses a long-running subcommand's flags, settles the retention
// defaults and builds its logger.
func (o *options) parse(f *cmdFlags, args []string, stderr io.Writer) (*slog.Logger, error) {
	if err := f.parse(args); err != nil {
		return nil, err
	}
	o.applyRetention()
	return o.log.logger(stderr)
}
