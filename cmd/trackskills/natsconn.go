package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
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

// natsAuth returns the options that log a client in as user: with
// --nats-creds, the file it names (user:password as trackskills writes
// it, or a NATS .creds file with a JWT, for a server of your own); else
// the data dir's file for user, which the embedded server creates. That
// file is read at every connection attempt, so that a part started before
// `trackskills nats` made it logs in once it exists; a server without
// authentication ignores it, and a user name and password in the URL win.
func (o *options) natsAuth(user string) ([]nats.Option, error) {
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
		c, err := embeddednats.ReadCreds(path)
		if err != nil {
			return nil, err
		}
		user = c.User
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
		return nil, fmt.Errorf("connect to nats %s: %w", url, authHint(err))
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
