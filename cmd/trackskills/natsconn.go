package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills/embeddednats"
	"github.com/trackskills/trackskills/ingest"
)

// newJetStream wraps a connection with the publish settings ingest needs.
func newJetStream(nc *nats.Conn) (jetstream.JetStream, error) {
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(256), jetstream.WithPublishAsyncTimeout(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	return js, nil
}

// natsConnOptions are the flags of a client connection to NATS, beside
// --nats-url and --nats-creds: another way to log in (an NKey seed, a
// user and password, a token) and TLS. Every part that connects takes
// them, through natsAuth.
type natsConnOptions struct {
	nkey     string // NKey seed file
	user     string
	password string
	token    string
	tlsCA    string // PEM file of the CAs that signed the server's certificate
	tlsCert  string // client certificate (PEM), for a server that wants one
	tlsKey   string // its private key
}

// registerNATSConn registers the login and TLS flags of a NATS client.
func (o *options) registerNATSConn(f *cmdFlags) {
	c := &o.natsConn
	f.StringVar(&c.nkey, "nats-nkey", c.nkey, "NATS NKey seed file (SU...), for a server that knows this part by its public key")
	f.StringVar(&c.user, "nats-user", c.user, "NATS user name (with --nats-password), for a server of your own; a user:password in --nats-url does the same")
	f.StringVar(&c.password, "nats-password", c.password, "NATS password of --nats-user; prefer TRACKSKILLS_NATS_PASSWORD (the command line is visible in the process list)")
	f.StringVar(&c.token, "nats-token", c.token, "NATS token, for a server that wants one; prefer TRACKSKILLS_NATS_TOKEN (the command line is visible in the process list)")
	f.StringVar(&c.tlsCA, "nats-tls-ca", c.tlsCA, "PEM file of the CA(s) that signed the NATS server's certificate; turns TLS on")
	f.StringVar(&c.tlsCert, "nats-tls-cert", c.tlsCert, "client certificate (PEM) presented to a NATS server that verifies clients, with --nats-tls-key; turns TLS on")
	f.StringVar(&c.tlsKey, "nats-tls-key", c.tlsKey, "private key (PEM) of --nats-tls-cert")
}

// validate checks that at most one way to log in is given, and
// the TLS files in pairs; it reads no file.
func (c natsConnOptions) validate(creds string) error {
	var ways []string
	for _, w := range []struct {
		name string
		set  bool
	}{
		{"--nats-creds", creds != ""},
		{"--nats-nkey", c.nkey != ""},
		{"--nats-user", c.user != ""},
		{"--nats-token", c.token != ""},
	} {
		if w.set {
			ways = append(ways, w.name)
		}
	}
	switch {
	case len(ways) > 1:
		return fmt.Errorf("nats login: %s are ways to log in: give one", strings.Join(ways, " and "))
	case c.password != "" && c.user == "":
		return errors.New("nats login: --nats-password needs --nats-user")
	case c.user != "" && c.password == "":
		return errors.New("nats login: --nats-user needs --nats-password (or TRACKSKILLS_NATS_PASSWORD)")
	case (c.tlsCert == "") != (c.tlsKey == ""):
		return errors.New("nats tls: --nats-tls-cert and --nats-tls-key go together")
	}
	return nil
}

// tlsOptions are the TLS options of the flags, none when TLS is off.
func (c natsConnOptions) tlsOptions() []nats.Option {
	var out []nats.Option
	if c.tlsCA != "" {
		out = append(out, nats.RootCAs(c.tlsCA))
	}
	if c.tlsCert != "" {
		out = append(out, nats.ClientCert(c.tlsCert, c.tlsKey))
	}
	return out
}

// natsAuth returns the options of a client connection that logs in as
// user (one of embeddednats.Users), TLS included: with --nats-nkey, the
// seed it names; with --nats-user, that user and --nats-password; with
// --nats-token, the token; with --nats-creds, the file it names
// (user:password as trackskills writes it, or a NATS .creds file with a
// JWT, for a server of your own); else the data dir's file for user, which
// the embedded server creates. That file is read at every connection
// attempt, so that a part started before `trackskills nats` made it logs
// in once it exists; a server without authentication ignores it, and a
// user name and password in the URL win. No secret is logged.
func (o *options) natsAuth(user string) ([]nats.Option, error) {
	c := o.natsConn
	if err := c.validate(o.natsCreds); err != nil {
		return nil, err
	}
	login, err := o.natsLogin(user)
	if err != nil {
		return nil, err
	}
	return append(login, c.tlsOptions()...), nil
}

// natsLogin is the login part of natsAuth.
func (o *options) natsLogin(user string) ([]nats.Option, error) {
	c := o.natsConn
	switch {
	case c.nkey != "":
		opt, err := nats.NkeyOptionFromSeed(c.nkey)
		if err != nil {
			return nil, fmt.Errorf("nats nkey: %w", err)
		}
		return []nats.Option{opt}, nil
	case c.user != "":
		opts := []nats.Option{nats.UserInfo(c.user, c.password)}
		if slices.Contains(embeddednats.Users, c.user) {
			// The embedded server lets each user read only its own inbox.
			opts = append(opts, nats.CustomInboxPrefix(embeddednats.InboxPrefix(c.user)))
		}
		return opts, nil
	case c.token != "":
		return []nats.Option{nats.Token(c.token)}, nil
	}
	path := o.natsCreds
	if path == "" {
		path = embeddednats.CredsFile(filepath.Join(o.dataDir, embeddednats.CredsDirName), user)
	} else {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("nats credentials: %w", err)
		}
		if bytes.Contains(b, []byte("BEGIN NATS USER JWT")) {
			return []nats.Option{nats.UserCredentials(path)}, nil
		}
		creds, err := embeddednats.ReadCreds(path)
		if err != nil {
			return nil, err
		}
		user = creds.User
	}
	return []nats.Option{
		nats.UserInfoHandler(func() (string, string) {
			c, err := embeddednats.ReadCreds(path)
			if err != nil {
				return "", "" // none yet: try without, and again at the next attempt
			}
			return c.User, c.Password
		}),
		nats.IgnoreAuthErrorAbort(),
		nats.CustomInboxPrefix(embeddednats.InboxPrefix(user)),
	}, nil
}

// redactURLs returns the comma-separated NATS URLs urls with their
// passwords (and tokens, which NATS takes as a URL's user) replaced, for a
// log or an error message.
func redactURLs(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		u, err := url.Parse(p)
		switch {
		case err != nil:
			if at := strings.LastIndex(p, "@"); at >= 0 {
				p = "***" + p[at:]
			}
		case u.User != nil:
			if _, hasPass := u.User.Password(); hasPass {
				p = u.Redacted()
			} else {
				u.User = url.User("***")
				p = u.String()
			}
		}
		parts[i] = p
	}
	return strings.Join(parts, ",")
}

// authHint adds to a connection error what to do when the server refused
// the login.
func authHint(err error) error {
	if errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) {
		return fmt.Errorf("%w (the embedded server's credentials are in <data-dir>/%s: give --data-dir, or --nats-creds with a file)", err, embeddednats.CredsDirName)
	}
	return err
}

// connectJetStream is connectNATS with a JetStream handle on the
// connection; the caller closes the connection.
func connectJetStream(url, name string, logger *slog.Logger, opts ...nats.Option) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := connectNATS(url, name, logger, opts...)
	if err != nil {
		return nil, nil, err
	}
	js, err := newJetStream(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

// connectNATS connects to an external server, retrying in the background
// while it is not up yet (the Procfile starts every process at once);
// opts are natsAuth's.
func connectNATS(url, name string, logger *slog.Logger, opts ...nats.Option) (*nats.Conn, error) {
	authLogged := false
	nc, err := nats.Connect(url, append([]nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				logger.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { logger.Info("nats connected", "url", nc.ConnectedUrlRedacted()) }),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
			if !authLogged && errors.Is(err, nats.ErrAuthorization) {
				authLogged = true // once: a refused login is tried again every 250 ms
				logger.Warn("nats refused the login", "err", authHint(err))
			}
		}),
	}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("connect to nats %s: %w", redactURLs(url), authHint(err))
	}
	return nc, nil
}

// ensureStream declares the stream, retrying until NATS answers or ctx ends.
func ensureStream(ctx context.Context, js jetstream.JetStream, cfg ingest.StreamConfig, logger *slog.Logger) error {
	delay := 100 * time.Millisecond
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := ingest.DeclareStream(cctx, js, cfg, logger)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("declare stream: %w", errors.Join(ctx.Err(), err))
		}
		logger.Info("waiting for nats to declare the stream", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
		delay = min(delay*2, 2*time.Second)
	}
}

// drainConn flushes what the connection still has to send (acks included)
// and closes it.
func drainConn(ctx context.Context, nc *nats.Conn) error {
	if nc.IsClosed() {
		return nil
	}
	closed := make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
	if err := nc.Drain(); err != nil {
		nc.Close()
		return nil // a connection that cannot drain has nothing left to flush
	}
	select {
	case <-closed:
		return nil
	case <-ctx.Done():
		nc.Close()
		return fmt.Errorf("drain nats connection: %w", ctx.Err())
	}
}
