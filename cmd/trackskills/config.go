package main

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"time"

	"github.com/trackskills/trackskills/analytics"
	"github.com/trackskills/trackskills/consumer"
	"github.com/trackskills/trackskills/embeddednats"
	"github.com/trackskills/trackskills/httpapi"
	"github.com/trackskills/trackskills/ingest"
	"github.com/trackskills/trackskills/runs"
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
	keyRateLimit   float64
	publicHosts    []string
	storeSkillArgs bool

	natsAddr        string
	natsURL         string
	natsCreds       string
	natsConn        natsConnOptions // natsconn.go: the other logins, TLS
	natsSyncAlways  bool
	natsMaxStore    int64
	allowRemoteNATS bool

	stream       ingest.StreamConfig
	retentionRaw time.Duration
	trim         consumer.TrimConfig // serve, nats: consumed history trimmed when the store fills

	readKeys     string
	allowOrigins string
	pipeline     analytics.PipelineConfig // serve, analytics: the pipeline strip's thresholds
	minGroupSize int                      // serve, analytics: groupsize.go
	runIdle      time.Duration            // serve, consumer, replay: runs.go
	rollupDelay  time.Duration            // serve, consumer: how long the writer may hold rollups

	consumer consumer.Config

	healthAddr string // consumer: /healthz and /readyz, empty = none
	cpuProfile string // serve and seed: a CPU profile of the whole run

	metrics metricsOptions // --metrics-addr

	shutdownTimeout time.Duration
}

// defaultOptions returns every default of the long-running subcommands,
// set once here: each subcommand registers its flags with these values as
// their defaults (the analytics subcommand moves the HTTP port to 8081).
func defaultOptions() options {
	sd := ingest.DefaultStreamConfig()
	cd := consumer.DefaultConfig()
	return options{
		log:      logOptions{level: "info", format: "text"},
		dataDir:  "./data",
		httpAddr: "127.0.0.1:8080",
		natsAddr: "127.0.0.1:4222",
		natsURL:  "nats://127.0.0.1:4222",
		// MaxAge 0 follows --retention-raw (applyRetention).
		stream:          ingest.StreamConfig{Duplicates: sd.Duplicates, Replicas: sd.Replicas},
		retentionRaw:    cd.RetentionRaw,
		trim:            consumer.DefaultTrimConfig(),
		pipeline:        analytics.DefaultPipelineConfig(),
		minGroupSize:    1,
		runIdle:         runs.DefaultIdleMs * time.Millisecond,
		rollupDelay:     10 * time.Second,
		consumer:        cd,
		shutdownTimeout: 10 * time.Second,
	}
}

func (o *options) registerDataDir(f *cmdFlags) {
	f.StringVar(&o.dataDir, "data-dir", o.dataDir, "directory of the JetStream store, the SQLite file and the hash key")
}

func (o *options) registerData(f *cmdFlags) {
	o.registerDataDir(f)
	f.StringVar(&o.db, "db", o.db, "the SQLite file (default <data-dir>/trackskills.db)")
}

func (o *options) registerHTTP(f *cmdFlags) {
	f.StringVar(&o.httpAddr, "http-addr", o.httpAddr, "HTTP listen address (host:port)")
	f.StringVar(&o.ingestKeys, "ingest-keys", o.ingestKeys, "accepted ingest keys, comma-separated, or @file with one a line, read again on SIGHUP; clients send Authorization: Bearer <key>. "+
		"Keys on the command line are visible to other local users in the process list: prefer @file or TRACKSKILLS_INGEST_KEYS")
	f.BoolVar(&o.allowNoKeys, "allow-no-keys", o.allowNoKeys, "allow an HTTP address beyond loopback without ingest or read keys (anyone who can reach it can send events or read analytics)")
	o.registerTrustedProxies(f)
	f.Float64Var(&o.rateLimit, "rate-limit", o.rateLimit, "requests per second allowed to one client IP on /api (0 = no limit); over it: 429")
	f.Float64Var(&o.keyRateLimit, "key-rate-limit", o.keyRateLimit, "requests per second allowed to one ingest key on /api, from all its addresses together (0 = no limit); over it: 429")
	o.registerPublicHost(f)
	f.BoolVar(&o.storeSkillArgs, "store-skill-args", o.storeSkillArgs, "keep the arguments of skills called through Claude Code hooks in the metadata (they can hold anything the user typed)")
}

func (o *options) registerAnalytics(f *cmdFlags) {
	f.StringVar(&o.readKeys, "read-keys", o.readKeys, "keys accepted by /analytics, comma-separated, or @file with one a line, read again on SIGHUP; clients send x-api-key: <key> or Authorization: Bearer <key>. "+
		"Keys on the command line are visible to other local users in the process list: prefer @file or TRACKSKILLS_READ_KEYS")
	f.StringVar(&o.allowOrigins, "cors-origins", o.allowOrigins, "origins allowed to call /analytics from a browser, comma-separated (e.g. https://dash.example.com)")
	o.registerTrustedProxies(f)
	o.registerPublicHost(f)
	o.registerPipeline(f)
	o.registerMinGroupSize(f)
}

// registerTrustedProxies registers --trusted-proxies once, for ingest and
// analytics alike.
func (o *options) registerTrustedProxies(f *cmdFlags) {
	if f.Lookup("trusted-proxies") != nil {
		return
	}
	f.StringVar(&o.trustedProxies, "trusted-proxies", o.trustedProxies, "proxies (IPs or CIDRs, comma-separated) whose X-Forwarded-For, X-Real-IP or CF-Connecting-IP header names the client")
}

// registerPublicHost registers --public-host once, for ingest and
// analytics alike.
func (o *options) registerPublicHost(f *cmdFlags) {
	if f.Lookup("public-host") != nil {
		return
	}
	f.Var(&listFlag{p: &o.publicHosts}, "public-host", "a host name this server also answers to, besides localhost, 127.0.0.1 and [::1] "+
		"(the name of a proxy or tunnel in front of it); repeat it or separate names with commas. Bound to loopback, or when this is set, "+
		"a request for any other Host gets 403 (DNS rebinding)")
}

// hostAuth returns the Host check of the HTTP server: bound to loopback,
// or with --public-host, only the loopback names and the public hosts are
// answered; bound beyond loopback without --public-host, any Host is.
func (o *options) hostAuth() (httpapi.HostAuth, error) {
	var names []string
	for _, h := range o.publicHosts {
		n, err := httpapi.HostName(h)
		if err != nil {
			return httpapi.HostAuth{}, fmt.Errorf("public host: %w", err)
		}
		names = append(names, n)
	}
	if len(names) == 0 && !isLoopback(o.httpAddr) {
		return httpapi.HostAuth{}, nil
	}
	return httpapi.HostAuth{
		Names: append(slices.Clone(httpapi.LoopbackNames), names...),
		Hint:  "to reach this server by that name (through a proxy or a tunnel), add it with --public-host (TRACKSKILLS_PUBLIC_HOST)",
	}, nil
}

// proxies parses --trusted-proxies.
func (o *options) proxies() ([]*net.IPNet, error) {
	list, err := splitList(o.trustedProxies)
	if err != nil {
		return nil, fmt.Errorf("trusted proxies: %w", err)
	}
	return ingest.ParseCIDRs(list)
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
	if _, err := o.hostAuth(); err != nil {
		return cfg, err
	}
	if _, err := o.proxies(); err != nil {
		return cfg, err
	}
	if cfg.Pipeline, err = o.pipelineConfig(); err != nil {
		return cfg, err
	}
	if cfg.MinGroupSize, err = o.minGroupSizeConfig(); err != nil {
		return cfg, err
	}
	cfg.ReadKeys, cfg.AllowOrigins = keys, origins
	return cfg, nil
}

// natsNoPort is the --nats-addr of a server that opens no port: only the
// parts of serve, in-process, reach it.
const natsNoPort = "none"

func (o *options) registerNATSServer(f *cmdFlags) {
	f.StringVar(&o.natsAddr, "nats-addr", o.natsAddr, "where the embedded NATS server listens (host:port); "+natsNoPort+" opens no port (serve only: its parts connect in-process, and replay, status and rebuild cannot reach the stream)")
	f.BoolVar(&o.natsSyncAlways, "nats-sync-always", o.natsSyncAlways, "fsync JetStream on every write before acknowledging it (survives a power cut, slower); otherwise a 2xx survives a process crash and the store is synced every 2 minutes")
	f.Int64Var(&o.natsMaxStore, "nats-max-store", o.natsMaxStore, "cap on the JetStream file store in bytes (0 = no cap)")
	f.BoolVar(&o.allowRemoteNATS, "allow-remote-nats", o.allowRemoteNATS, "allow the NATS server to listen beyond loopback (its logins and events cross the network unencrypted)")
}

func (o *options) registerNATSClient(f *cmdFlags) {
	f.StringVar(&o.natsURL, "nats-url", o.natsURL, "NATS server(s) to connect to, comma-separated")
	o.registerNATSCreds(f)
}

func (o *options) registerNATSCreds(f *cmdFlags) {
	f.StringVar(&o.natsCreds, "nats-creds", o.natsCreds, "NATS credentials file: user:password (as in <data-dir>/"+embeddednats.CredsDirName+"/, which is read when this is empty) or a NATS .creds file with a JWT")
	o.registerNATSConn(f)
}

func (o *options) registerStream(f *cmdFlags) {
	f.duration(&o.stream.MaxAge, "stream-max-age", o.stream.MaxAge, "events older than this leave the stream (e.g. 90d, 720h); 0 follows --retention-raw")
	o.registerRetention(f)
	f.Int64Var(&o.stream.MaxBytes, "stream-max-bytes", o.stream.MaxBytes, "size cap of the stream in bytes; when full of events not yet stored in SQLite, ingest answers 503 (0 = no cap). "+
		"A part that does not run NATS (ingest) only tightens the stream's limits, never loosens them")
	f.duration(&o.stream.Duplicates, "stream-duplicates", o.stream.Duplicates, "Nats-Msg-Id deduplication window")
	f.IntVar(&o.stream.Replicas, "stream-replicas", o.stream.Replicas, "stream replicas (on a NATS cluster)")
}

// registerTrim registers the trimming of consumed history, for the
// processes that run the NATS server, which own the stream.
func (o *options) registerTrim(f *cmdFlags) {
	f.Var(percentFlag{&o.trim.High}, "stream-trim-high", "when the stream passes this share of --stream-max-bytes, or the store of --nats-max-store, events already stored in SQLite "+
		"are removed from the stream oldest first (replay history gives way; unstored events never do), down to --stream-trim-low")
	f.Var(percentFlag{&o.trim.Low}, "stream-trim-low", "the share of the limit that trimming brings the stream or the store down to")
}

// registerRetention registers --retention-raw once, for the stream and the
// consumer alike.
func (o *options) registerRetention(f *cmdFlags) {
	if f.Lookup("retention-raw") != nil {
		return
	}
	f.duration(&o.retentionRaw, "retention-raw", o.retentionRaw, "raw events older than this are deleted from SQLite (in small chunks) and leave the stream; 0 keeps them")
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
	o.registerRetention(f)
	o.registerRunIdle(f)
	f.duration(&o.consumer.RetentionAggregates, "retention-aggregates", o.consumer.RetentionAggregates, "aggregate rows older than this are deleted; 0 keeps them")
	f.IntVar(&o.consumer.BatchEvents, "batch-events", o.consumer.BatchEvents, "close a consumer batch (one SQLite transaction) at this many events; while the writer is behind, batches grow to 8 times this")
	f.duration(&o.consumer.BatchWait, "batch-wait", o.consumer.BatchWait, "or this long after its first message")
	f.duration(&o.consumer.AckWait, "ack-wait", o.consumer.AckWait, "redelivery delay of a message the consumer did not acknowledge")
	f.duration(&o.rollupDelay, "rollup-delay", o.rollupDelay,
		"write the aggregates of committed events up to this late, many batches at once (raw rows are never late; 0 writes them with each batch)")
}

func (o *options) registerShutdown(f *cmdFlags) {
	f.duration(&o.shutdownTimeout, "shutdown-timeout", o.shutdownTimeout, "longest graceful shutdown; a second signal cuts it short")
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
	if cfg.TrustedProxies, err = o.proxies(); err != nil {
		return cfg, err
	}
	if cfg.Hosts, err = o.hostAuth(); err != nil {
		return cfg, err
	}
	cfg.Keys, cfg.RateLimit, cfg.KeyRateLimit, cfg.StoreSkillArgs = keys, o.rateLimit, o.keyRateLimit, o.storeSkillArgs
	return cfg, nil
}

func (o *options) natsConfig() (embeddednats.Config, error) {
	cfg := embeddednats.DefaultConfig()
	switch {
	case o.natsAddr == natsNoPort:
		cfg.Addr = ""
	case !isLoopback(o.natsAddr) && !o.allowRemoteNATS:
		return embeddednats.Config{}, fmt.Errorf("nats address %s is reachable beyond this machine and the embedded server's traffic is not encrypted: bind it to 127.0.0.1, or pass --allow-remote-nats", o.natsAddr)
	default:
		cfg.Addr = o.natsAddr
	}
	cfg.StoreDir = filepath.Join(o.dataDir, "nats")
	cfg.CredsDir = filepath.Join(o.dataDir, embeddednats.CredsDirName)
	cfg.SyncAlways = o.natsSyncAlways
	cfg.MaxStore = o.natsMaxStore
	return cfg, nil
}

// migrationLog logs the migrations Open applies: on a large database a
// backfill can take a while, and a silent start looks like a hang.
func migrationLog(logger *slog.Logger) sql.Option {
	return sql.WithLogger(logger.With("component", "sql"))
}

// writerOptions are the options of the database a writer (the consumer,
// replay) opens: its migration log, the runs' idle timeout and the rollup
// delay (a replay's batches write their rollups at once whatever it is).
func (o *options) writerOptions(logger *slog.Logger) []sql.Option {
	return []sql.Option{migrationLog(logger), sql.WithRunIdleTimeout(o.runIdle), sql.WithRollupDelay(o.rollupDelay, 0)}
}

// parse is the one parse path of the long-running subcommands: the
// environment twins, then the command line, then the retention defaults
// settled and every value checked, before the subcommand creates or starts
// anything (a data dir, a hash key, a migration, NATS). It returns the
// subcommand's logger.
func (o *options) parse(f *cmdFlags, args []string, stderr io.Writer) (*slog.Logger, error) {
	if err := f.parse(args); err != nil {
		return nil, err
	}
	o.applyRetention()
	o.stream.Given = ingest.StreamSettings{
		MaxAge:     f.given("stream-max-age") || f.given("retention-raw"),
		MaxBytes:   f.given("stream-max-bytes"),
		Duplicates: f.given("stream-duplicates"),
		Replicas:   f.given("stream-replicas"),
	}
	o.trim.MaxStore = o.natsMaxStore
	logger, err := o.log.logger(stderr)
	if err != nil {
		return nil, err
	}
	if err := o.validate(f); err != nil {
		return nil, err
	}
	return logger, nil
}

// validate checks the settings of every flag group f registered, with the
// checks the parts would make when they start.
func (o *options) validate(f *cmdFlags) error {
	has := func(name string) bool { return f.Lookup(name) != nil }
	if has("ingest-keys") {
		if _, err := o.ingestConfig(); err != nil {
			return err
		}
	}
	if has("read-keys") {
		if _, err := o.analyticsConfig(); err != nil {
			return err
		}
	}
	if has("nats-addr") {
		cfg, err := o.natsConfig()
		if err != nil {
			return err
		}
		if err := cfg.Validate(); err != nil {
			return err
		}
	}
	if has("nats-creds") {
		if err := o.natsConn.validate(o.natsCreds); err != nil {
			return err
		}
	}
	if has("stream-replicas") {
		if err := o.stream.Validate(); err != nil {
			return err
		}
	}
	if has("stream-trim-high") {
		if err := o.trim.Validate(); err != nil {
			return err
		}
	}
	if has("metrics-addr") {
		if _, err := o.metrics.metricsAddr(); err != nil {
			return err
		}
	}
	if has("batch-events") {
		if err := o.consumer.Validate(); err != nil {
			return err
		}
	}
	return nil
}
