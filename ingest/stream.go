package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills"
)

// StreamConfig configures the JetStream stream that ingest declares.
type StreamConfig struct {
	MaxAge     time.Duration // events older than this leave the stream; 0 means no age limit
	MaxBytes   int64         // 0 means no size limit; when full, the stream refuses new events
	Duplicates time.Duration // Nats-Msg-Id deduplication window
	Replicas   int           // 1 unless running on a NATS cluster
	// Sources are the JetStream domains of leaf nodes whose own events
	// streams this one sources from (SourceFrom): the events accepted at a
	// leaf node reach the hub's stream, also after its link was down.
	Sources []string

	// Owner marks the part that owns the stream's configuration: the
	// process that runs the NATS server (serve, trackskills nats). On a
	// stream that exists it applies the settings in Given as they are,
	// loosening a limit included; any other part (ingest) only tightens
	// MaxAge and MaxBytes, and leaves the rest.
	Owner bool
	// Given says which settings were given explicitly (a flag or its
	// environment twin). On a stream that exists, the others are left as
	// they are, so that a part started with its defaults never undoes a
	// limit another part set.
	Given StreamSettings
}

// StreamSettings names settings of a StreamConfig.
type StreamSettings struct {
	MaxAge, MaxBytes, Duplicates, Replicas, Sources bool
}

// DefaultStreamConfig returns the stream settings of docs/CONTRACT.md, The
// stream.
func DefaultStreamConfig() StreamConfig {
	return StreamConfig{MaxAge: 90 * 24 * time.Hour, Duplicates: 2 * time.Minute, Replicas: 1}
}

// Validate checks the stream settings.
func (c StreamConfig) Validate() error {
	switch {
	case c.MaxAge < 0:
		return errors.New("stream max age must not be negative")
	case c.MaxBytes < 0:
		return errors.New("stream max bytes must not be negative")
	case c.Duplicates < 0:
		return errors.New("stream duplicate window must not be negative")
	case c.Replicas < 1 || c.Replicas > 5:
		return errors.New("stream replicas must be 1-5")
	}
	seen := map[string]bool{}
	for _, d := range c.Sources {
		if !domainRE.MatchString(d) {
			return fmt.Errorf("stream source %q: want a JetStream domain (letters, digits, - and _)", d)
		}
		if seen[d] {
			return fmt.Errorf("stream source %q given twice", d)
		}
		seen[d] = true
	}
	return nil
}

// domainRE is what a JetStream domain may be.
var domainRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// SourceFrom returns the source of the events stream of the leaf node whose
// JetStream domain is domain, reached through that domain's API.
func SourceFrom(domain string) *jetstream.StreamSource {
	return &jetstream.StreamSource{
		Name:     trackskills.StreamName,
		External: &jetstream.ExternalStream{APIPrefix: "$JS." + domain + ".API"},
	}
}

// streamSources are the sources of domains.
func streamSources(domains []string) []*jetstream.StreamSource {
	var out []*jetstream.StreamSource
	for _, d := range domains {
		out = append(out, SourceFrom(d))
	}
	return out
}

// EnsureStream is DeclareStream without a log.
func EnsureStream(ctx context.Context, js jetstream.JetStream, cfg StreamConfig) (jetstream.Stream, error) {
	return DeclareStream(ctx, js, cfg, slog.New(slog.DiscardHandler))
}

// DeclareStream creates the events stream with cfg when it is missing.
// When it exists, DeclareStream changes only what cfg.Given names: the
// owner (cfg.Owner) applies those settings as they are; any other part
// tightens MaxAge and MaxBytes only, and logs a limit it leaves because
// its own would loosen it.
//
// Either way the stream refuses new events when full (DiscardNew) instead
// of dropping its oldest: those may not be in SQLite yet. Its consumed
// history gives way instead (the consumer package's Trimmer).
func DeclareStream(ctx context.Context, js jetstream.JetStream, cfg StreamConfig, logger *slog.Logger) (jetstream.Stream, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	for range 3 {
		s, err := js.Stream(ctx, trackskills.StreamName)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			s, err = js.CreateStream(ctx, newStreamConfig(cfg))
			if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
				continue // another part made it meanwhile: update that one
			}
			if err != nil {
				return nil, fmt.Errorf("create stream %s: %w", trackskills.StreamName, err)
			}
			logger.Info("stream created", "stream", trackskills.StreamName, "max_bytes", limitLog(cfg.MaxBytes), "max_age", cfg.MaxAge)
			return s, nil
		}
		if err != nil {
			return nil, fmt.Errorf("look up stream %s: %w", trackskills.StreamName, err)
		}
		old := s.CachedInfo().Config
		sc := mergeStreamConfig(old, cfg, logger)
		if streamConfigEqual(old, sc) {
			return s, nil
		}
		if s, err = js.UpdateStream(ctx, sc); err != nil {
			return nil, fmt.Errorf("update stream %s: %w", trackskills.StreamName, err)
		}
		logger.Info("stream updated", "stream", trackskills.StreamName, "max_bytes", limitLog(sc.MaxBytes), "max_age", sc.MaxAge, "discard", sc.Discard.String())
		return s, nil
	}
	return nil, fmt.Errorf("create stream %s: made and deleted again meanwhile", trackskills.StreamName)
}

// newStreamConfig is the configuration of a stream made from cfg.
func newStreamConfig(cfg StreamConfig) jetstream.StreamConfig {
	sc := jetstream.StreamConfig{
		Name:        trackskills.StreamName,
		Description: "Track Skills events (one or more NDJSON events a message)",
		Subjects:    []string{trackskills.StreamSubjects},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      cfg.MaxAge,
		MaxBytes:    -1,
		Duplicates:  cfg.Duplicates,
		Replicas:    cfg.Replicas,
		Discard:     jetstream.DiscardNew,
		Sources:     streamSources(cfg.Sources),
	}
	if cfg.MaxBytes > 0 {
		sc.MaxBytes = cfg.MaxBytes
	}
	clampDuplicates(&sc)
	return sc
}

// mergeStreamConfig returns old changed as cfg may change it (see
// DeclareStream).
func mergeStreamConfig(old jetstream.StreamConfig, cfg StreamConfig, logger *slog.Logger) jetstream.StreamConfig {
	sc := old
	sc.Subjects = slices.Clone(old.Subjects)
	if !slices.Contains(sc.Subjects, trackskills.StreamSubjects) {
		sc.Subjects = append(sc.Subjects, trackskills.StreamSubjects)
	}
	sc.Discard = jetstream.DiscardNew
	maxBytes := int64(-1)
	if cfg.MaxBytes > 0 {
		maxBytes = cfg.MaxBytes
	}
	switch {
	case !cfg.Given.MaxBytes:
	case cfg.Owner || tighter(maxBytes, old.MaxBytes):
		sc.MaxBytes = maxBytes
	case maxBytes != old.MaxBytes:
		logger.Warn("stream max bytes left as they are: this part's would loosen them; change them on the part that runs NATS (trackskills nats or serve, --stream-max-bytes)",
			"stream_max_bytes", limitLog(old.MaxBytes), "ignored", limitLog(maxBytes))
	}
	switch {
	case !cfg.Given.MaxAge:
	case cfg.Owner || tighter(int64(cfg.MaxAge), int64(old.MaxAge)):
		sc.MaxAge = cfg.MaxAge
	case cfg.MaxAge != old.MaxAge:
		logger.Warn("stream max age left as it is: this part's would loosen it; change it on the part that runs NATS (trackskills nats or serve, --stream-max-age)",
			"stream_max_age", old.MaxAge, "ignored", cfg.MaxAge)
	}
	if cfg.Owner && cfg.Given.Duplicates {
		sc.Duplicates = cfg.Duplicates
	}
	if cfg.Owner && cfg.Given.Replicas {
		sc.Replicas = cfg.Replicas
	}
	if cfg.Owner && cfg.Given.Sources {
		sc.Sources = streamSources(cfg.Sources)
	}
	clampDuplicates(&sc)
	return sc
}

// tighter reports whether limit a is tighter than b, where 0 or less is
// no limit.
func tighter(a, b int64) bool {
	return a > 0 && (b <= 0 || a < b)
}

// clampDuplicates keeps the deduplication window within the age limit,
// which JetStream requires.
func clampDuplicates(sc *jetstream.StreamConfig) {
	if sc.MaxAge > 0 && sc.Duplicates > sc.MaxAge {
		sc.Duplicates = sc.MaxAge
	}
}

// streamConfigEqual reports whether a and b differ in nothing
// DeclareStream changes.
func streamConfigEqual(a, b jetstream.StreamConfig) bool {
	return slices.Equal(a.Subjects, b.Subjects) && a.Discard == b.Discard && a.MaxBytes == b.MaxBytes &&
		a.MaxAge == b.MaxAge && a.Duplicates == b.Duplicates && a.Replicas == b.Replicas &&
		slices.EqualFunc(a.Sources, b.Sources, sameSource)
}

// sameSource reports whether a and b source the same stream through the
// same API.
func sameSource(a, b *jetstream.StreamSource) bool {
	prefix := func(s *jetstream.StreamSource) string {
		if s.External == nil {
			return ""
		}
		return s.External.APIPrefix
	}
	return a.Name == b.Name && prefix(a) == prefix(b)
}

// limitLog is a byte limit for the log: "none" for no limit.
func limitLog(n int64) any {
	if n <= 0 {
		return "none"
	}
	return n
}

// RestartSource removes the source of domain (SourceFrom) from the events
// stream and adds it back, so that the server sets it up at once: after a
// failed attempt (the leaf node's link was down) nats-server waits longer
// and longer before it tries again. The source goes on after the last
// message it had brought, which the server finds in the stream.
func RestartSource(ctx context.Context, js jetstream.JetStream, domain string) error {
	s, err := js.Stream(ctx, trackskills.StreamName)
	if err != nil {
		return fmt.Errorf("look up stream %s: %w", trackskills.StreamName, err)
	}
	sc := s.CachedInfo().Config
	src := SourceFrom(domain)
	i := slices.IndexFunc(sc.Sources, func(s *jetstream.StreamSource) bool { return sameSource(s, src) })
	if i < 0 {
		return fmt.Errorf("stream %s has no source in domain %s", trackskills.StreamName, domain)
	}
	without := sc
	without.Sources = slices.Delete(slices.Clone(sc.Sources), i, i+1)
	if _, err := js.UpdateStream(ctx, without); err != nil {
		return fmt.Errorf("remove source %s: %w", domain, err)
	}
	// Back even when ctx ends meanwhile: a stream left without its
	// source would bring nothing more from that leaf node.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := js.UpdateStream(actx, sc); err != nil {
		return fmt.Errorf("add source %s back: %w", domain, err)
	}
	return nil
}
