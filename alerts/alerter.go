package alerts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/trackskills/trackskills/sql"
)

// Config configures an Alerter.
type Config struct {
	// Every is the time between two evaluations of the rules.
	Every time.Duration
	// Backoff is the wait before a failed POST is retried; it doubles with
	// each retry.
	Backoff time.Duration
	// Client makes the requests; nil is a plain http.Client.
	Client *http.Client
	// Now is the clock; tests replace it.
	Now func() time.Time
}

// DefaultConfig returns the defaults: an evaluation a minute, retries
// after 1 s, 2 s, 4 s.
func DefaultConfig() Config {
	return Config{Every: time.Minute, Backoff: time.Second, Now: time.Now}
}

// Validate checks the settings.
func (c Config) Validate() error {
	if c.Every < time.Second {
		return fmt.Errorf("alerts: the evaluation interval must be at least 1s, not %s", c.Every)
	}
	if c.Backoff < 0 {
		return errors.New("alerts: the retry backoff must not be negative")
	}
	return nil
}

// Alerter evaluates the rules of a file against a database at a fixed
// interval and delivers their alerts. Its state (what fires, what was sent
// when) is kept in memory only: after a restart, an alert that still fires
// is sent once more, and one that stopped firing while the process was down
// gets no resolved message.
type Alerter struct {
	cfg    Config
	file   *File
	db     *sql.DB
	logger *slog.Logger
	sender *Sender
	states map[string]map[string]*alertState // rule name -> finding key
}

// alertState is one subject of a rule whose condition held at the last
// evaluation, or whose resolved message is still owed.
type alertState struct {
	finding   Finding
	pending   time.Time            // when the condition was first seen to hold
	firing    time.Time            // when it started firing (after the rule's for); zero while pending
	sent      map[string]time.Time // target -> last firing message delivered
	resolving bool                 // stopped firing: sent's targets are owed a resolved message
	ended     time.Time            // when it stopped firing
}

// New returns an Alerter for the rules of f over db, which it reads only.
func New(cfg Config, f *File, db *sql.DB, logger *slog.Logger) (*Alerter, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if f == nil || db == nil {
		return nil, errors.New("alerts: a rules file and a database are required")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Alerter{
		cfg: cfg, file: f, db: db, logger: logger,
		sender: &Sender{Client: cfg.Client, Backoff: cfg.Backoff},
		states: map[string]map[string]*alertState{},
	}, nil
}

// Run evaluates the rules at once and then every cfg.Every until ctx is
// done; it returns nil then. A rule whose query fails is logged and tried
// again at the next evaluation, its alerts left as they were.
func (a *Alerter) Run(ctx context.Context) error {
	a.logger.Info("alerts started", "rules", len(a.file.Rules), "targets", len(a.file.Targets), "every", a.cfg.Every.String())
	t := time.NewTicker(a.cfg.Every)
	defer t.Stop()
	for {
		a.Evaluate(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// delivery is one message to one target, and the state it updates.
type delivery struct {
	target *Target
	msg    Notification
	state  *alertState
	rule   string
	key    string
	ok     bool
}

// Evaluate runs every rule once at cfg.Now(), then delivers what is due:
// a first firing message to each of a rule's targets, a repeat after the
// rule's repeat interval while it still fires, a resolved message to the
// targets that were told it fired once it stops. A message that fails is
// tried again at the next evaluation. It returns how many messages were
// delivered and how many failed.
func (a *Alerter) Evaluate(ctx context.Context) (delivered, failed int) {
	now := a.cfg.Now()
	var out []*delivery
	for i := range a.file.Rules {
		r := &a.file.Rules[i]
		findings, err := Evaluate(ctx, a.db, r, now)
		if err != nil {
			if ctx.Err() != nil {
				return 0, 0
			}
			a.logger.Error("evaluate alert rule", "rule", r.Name, "err", err)
			continue
		}
		out = append(out, a.update(r, findings, now)...)
	}
	a.deliver(ctx, out)
	for _, d := range out {
		if !d.ok {
			failed++
			continue
		}
		delivered++
		if d.msg.Status == StatusFiring {
			d.state.sent[d.target.Name] = now
			continue
		}
		delete(d.state.sent, d.target.Name)
		if len(d.state.sent) == 0 && a.states[d.rule][d.key] == d.state {
			delete(a.states[d.rule], d.key)
		}
	}
	return delivered, failed
}

// update moves the states of rule r to its findings at now and returns the
// messages due.
func (a *Alerter) update(r *Rule, findings []Finding, now time.Time) []*delivery {
	states := a.states[r.Name]
	if states == nil {
		states = map[string]*alertState{}
		a.states[r.Name] = states
	}
	var out []*delivery
	seen := map[string]bool{}
	for _, f := range findings {
		key := f.key()
		seen[key] = true
		st := states[key]
		if st == nil || st.resolving {
			// Firing again before every resolved message went out starts
			// a new alert: the old resolved messages are dropped.
			st = &alertState{pending: now, sent: map[string]time.Time{}}
			states[key] = st
		}
		st.finding = f
		if st.firing.IsZero() {
			if now.Sub(st.pending) < r.For {
				continue
			}
			st.firing = now
			a.logger.Info("alert firing", "rule", r.Name, "subject", f.Subject, "value", f.Value)
		}
		for _, t := range a.targetsOf(r) {
			last, ok := st.sent[t.Name]
			if ok && (r.Repeat == 0 || now.Sub(last) < r.Repeat) {
				continue
			}
			msg := newNotification(r, f, StatusFiring, st.firing, now)
			msg.Repeat = ok
			out = append(out, &delivery{target: t, msg: msg, state: st, rule: r.Name, key: key})
		}
	}
	for key, st := range states {
		if seen[key] {
			continue
		}
		if st.firing.IsZero() || len(st.sent) == 0 {
			delete(states, key) // it never fired, or nobody heard that it did
			continue
		}
		if !st.resolving {
			st.resolving, st.ended = true, now
			a.logger.Info("alert resolved", "rule", r.Name, "subject", st.finding.Subject)
		}
		for _, t := range a.targetsOf(r) {
			if _, owed := st.sent[t.Name]; owed {
				msg := newNotification(r, st.finding, StatusResolved, st.firing, st.ended)
				msg.SentAt = now.UTC()
				out = append(out, &delivery{target: t, msg: msg, state: st, rule: r.Name, key: key})
			}
		}
	}
	return out
}

// targetsOf returns the targets of a rule: those it names, or every one.
func (a *Alerter) targetsOf(r *Rule) []*Target {
	var out []*Target
	if len(r.Targets) == 0 {
		for i := range a.file.Targets {
			out = append(out, &a.file.Targets[i])
		}
		return out
	}
	for _, name := range r.Targets {
		if t := a.file.Target(name); t != nil {
			out = append(out, t)
		}
	}
	return out
}

// deliver sends the messages, the targets in parallel and each target's in
// order. After a target's first failure its other messages wait for the
// next evaluation, so that a webhook that is down delays one message per
// evaluation, not all of them.
func (a *Alerter) deliver(ctx context.Context, ds []*delivery) {
	per := map[string][]*delivery{}
	for _, d := range ds {
		per[d.target.Name] = append(per[d.target.Name], d)
	}
	var wg sync.WaitGroup
	for name, queue := range per {
		wg.Go(func() {
			for _, d := range queue {
				status, err := a.sender.Send(ctx, d.target, d.msg)
				if err != nil {
					if ctx.Err() == nil {
						a.logger.Warn("alert delivery failed", "target", name, "rule", d.rule, "status", status, "err", err)
					}
					return
				}
				d.ok = true
				a.logger.Debug("alert delivered", "target", name, "rule", d.rule, "alert_status", d.msg.Status, "status", status)
			}
		})
	}
	wg.Wait()
}
