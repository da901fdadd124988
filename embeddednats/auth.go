package embeddednats

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/trackskills/trackskills"
)

// The users of the embedded server, one a part, each allowed only what
// that part does (permissions).
const (
	// UserIngest publishes events and declares the stream.
	UserIngest = "ingest"
	// UserConsumer reads the stream through its durables and acknowledges.
	UserConsumer = "consumer"
	// UserAnalytics reads the live feed of events and the state of the
	// stream and its durables.
	UserAnalytics = "analytics"
	// UserAdmin may do anything: the command-line tools (replay, rebuild,
	// status) and the server's own connection.
	UserAdmin = "admin"
)

// Users lists every user of the embedded server.
var Users = []string{UserIngest, UserConsumer, UserAnalytics, UserAdmin}

// CredsDirName is the directory of the credentials files inside the data
// dir.
const CredsDirName = "nats-creds"

// Creds are the user name and password of one user of the server.
type Creds struct {
	User     string
	Password string
}

// CredsFile returns the path of user's credentials file in dir.
func CredsFile(dir, user string) string { return filepath.Join(dir, user+".creds") }

// InboxPrefix returns the inbox prefix of user's connections: each user may
// subscribe only to its own replies, so that no user reads another's (the
// events a consumer pulls arrive on its inbox).
func InboxPrefix(user string) string { return "_INBOX." + user }

// ReadCreds reads a credentials file: one line "user:password".
func ReadCreds(path string) (Creds, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Creds{}, fmt.Errorf("read nats credentials: %w", err)
	}
	user, pass, ok := strings.Cut(strings.TrimSpace(string(b)), ":")
	if !ok || user == "" || pass == "" {
		return Creds{}, fmt.Errorf("nats credentials %s: want one line user:password", path)
	}
	return Creds{User: user, Password: pass}, nil
}

// LoadOrCreateCreds returns the credentials of every user, read from dir,
// where a missing file is created first with a random password (32 random
// bytes, hex) and mode 0600. Two processes that start together on one data
// dir end with the same files.
func LoadOrCreateCreds(dir string) (map[string]Creds, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create nats credentials dir: %w", err)
	}
	out := make(map[string]Creds, len(Users))
	for _, user := range Users {
		c, err := loadOrCreateCreds(dir, user)
		if err != nil {
			return nil, err
		}
		out[user] = c
	}
	return out, nil
}

func loadOrCreateCreds(dir, user string) (Creds, error) {
	path := CredsFile(dir, user)
	c, err := ReadCreds(path)
	if err == nil {
		if c.User != user {
			return Creds{}, fmt.Errorf("nats credentials %s: names user %q, want %q", path, c.User, user)
		}
		return c, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return Creds{}, err
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return Creds{}, fmt.Errorf("make nats password: %w", err)
	}
	c = Creds{User: user, Password: hex.EncodeToString(secret)}
	// A temporary file (mode 0600) linked into place: a process that
	// starts at the same time reads a complete file or none.
	f, err := os.CreateTemp(dir, user+".creds.tmp*")
	if err != nil {
		return Creds{}, fmt.Errorf("create nats credentials: %w", err)
	}
	defer func() { _ = os.Remove(f.Name()) }() // linked into place, or not needed
	if _, err := fmt.Fprintf(f, "%s:%s\n", c.User, c.Password); err != nil {
		_ = f.Close() // the write error is the one to report
		return Creds{}, fmt.Errorf("write nats credentials: %w", err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close() // the sync error is the one to report
		return Creds{}, fmt.Errorf("sync nats credentials: %w", err)
	}
	if err := f.Close(); err != nil {
		return Creds{}, fmt.Errorf("close nats credentials: %w", err)
	}
	if err := os.Link(f.Name(), path); errors.Is(err, fs.ErrExist) {
		return loadOrCreateCreds(dir, user)
	} else if err != nil {
		return Creds{}, fmt.Errorf("install nats credentials: %w", err)
	}
	return c, nil
}

// serverUsers returns the server's users for creds, each with the
// permissions of its part.
func serverUsers(creds map[string]Creds) []*server.User {
	out := make([]*server.User, 0, len(creds))
	for _, user := range Users {
		c, ok := creds[user]
		if !ok {
			continue
		}
		out = append(out, &server.User{Username: c.User, Password: c.Password, Permissions: Permissions(user)})
	}
	return out
}

// Permissions returns what user may publish and subscribe to; nil (for
// UserAdmin) allows everything. The JetStream API is a set of subjects
// ($JS.API.<operation>.<stream>[.<consumer>]), so a user allowed only some
// of them cannot, say, purge the stream or delete a durable.
func Permissions(user string) *server.Permissions {
	const api = "$JS.API."
	stream := trackskills.StreamName
	inbox := &server.SubjectPermission{Allow: []string{InboxPrefix(user) + ".>"}}
	switch user {
	case UserIngest:
		return &server.Permissions{
			Publish: &server.SubjectPermission{Allow: []string{
				trackskills.StreamSubjects,
				api + "INFO",
				api + "STREAM.CREATE." + stream,
				api + "STREAM.UPDATE." + stream,
				api + "STREAM.INFO." + stream,
			}},
			Subscribe: inbox,
		}
	case UserConsumer:
		return &server.Permissions{
			Publish: &server.SubjectPermission{Allow: []string{
				api + "INFO",
				api + "STREAM.INFO." + stream,
				api + "STREAM.MSG.GET." + stream,
				api + "DIRECT.GET." + stream,
				api + "DIRECT.GET." + stream + ".>",
				// Its durables and the ordered consumers of a rebuild's
				// catch-up; it may not delete them (an ordered consumer's
				// delete is best-effort: the server expires it).
				api + "CONSUMER.CREATE." + stream + ".>",
				api + "CONSUMER.DURABLE.CREATE." + stream + ".>",
				api + "CONSUMER.INFO." + stream + ".>",
				api + "CONSUMER.MSG.NEXT." + stream + ".>",
				"$JS.ACK." + stream + ".>",
			}},
			Subscribe: inbox,
		}
	case UserAnalytics:
		// It reads the live feed, and the state of the stream and of the
		// durables for the pipeline's health: the oldest waiting message
		// is one it also gets from the live feed.
		return &server.Permissions{
			Publish: &server.SubjectPermission{Allow: []string{
				api + "STREAM.INFO." + stream,
				api + "STREAM.MSG.GET." + stream,
				api + "DIRECT.GET." + stream,
				api + "DIRECT.GET." + stream + ".>",
				api + "CONSUMER.INFO." + stream + ".>",
			}},
			Subscribe: &server.SubjectPermission{Allow: []string{trackskills.StreamSubjects, InboxPrefix(user) + ".>"}},
		}
	}
	return nil
}
