package embeddednats

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/trackskills/trackskills"
)

// The logins of the connections between servers, beside the users of the
// clients (Users): the routes of a cluster and the leaf nodes of a hub.
// Their credentials files are made in the credentials dir like the users'
// ones; every server of one cluster needs the same files (copy the
// credentials dir of the first node to the others before they first
// start), and a leaf node needs the hub's LeafUser file.
const (
	// RouteUser is the login of a route between two servers of a cluster.
	RouteUser = "route"
	// LeafUser is the login of a leaf node at its hub.
	LeafUser = "leaf"
)

// ClusterConfig joins the server to a NATS cluster: the servers that name
// one another in Routes form it, and replicate the streams (a stream of
// three replicas needs three servers).
type ClusterConfig struct {
	// Name is the cluster's name, the same on every server of it; empty
	// means no cluster.
	Name string
	// Addr is host:port where the other servers' routes connect.
	Addr string
	// Routes are the nats-route://host:port URLs of the other servers
	// (this one's own may be among them: it is skipped).
	Routes []string
}

// LeafConfig makes the server a hub that leaf nodes connect to (Listen),
// or a leaf node of a hub (Remotes), or both.
type LeafConfig struct {
	// Listen is host:port where leaf nodes connect; empty means none.
	Listen string
	// Remotes are the nats-leaf://host:port URLs of the hub (several
	// servers of one hub cluster); empty means this is no leaf node.
	Remotes []string
	// Creds is the file that logs this leaf node in at the hub: a
	// user:password file (the hub's leaf.creds) or a NATS .creds file with
	// a JWT. Empty uses the user and password in the URLs, if any.
	Creds string
	// Isolate keeps Subjects on this side of the link: the events a leaf
	// node's ingest publishes are stored by its own stream only, and reach
	// the hub's stream by its source, once, instead of also crossing as
	// they are published.
	Isolate []string
	// ReconnectWait is the delay between two attempts to reach the hub;
	// zero means nats-server's default.
	ReconnectWait time.Duration
}

// serverNameRE is what a server name or a JetStream domain may be: no
// spaces, dots or wildcards, which would make subjects of them ambiguous.
var serverNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// validateCluster checks the cluster, leaf node and naming settings.
func (c Config) validateCluster() error {
	if c.ServerName != "" && !serverNameRE.MatchString(c.ServerName) {
		return fmt.Errorf("nats server name %q: use letters, digits, - and _", c.ServerName)
	}
	if c.JetStreamDomain != "" && !serverNameRE.MatchString(c.JetStreamDomain) {
		return fmt.Errorf("jetstream domain %q: use letters, digits, - and _", c.JetStreamDomain)
	}
	cl := c.Cluster
	switch {
	case cl.Name == "" && (cl.Addr != "" || len(cl.Routes) > 0):
		return errors.New("nats cluster: a cluster address or routes need a cluster name")
	case cl.Name != "" && !serverNameRE.MatchString(cl.Name):
		return fmt.Errorf("nats cluster name %q: use letters, digits, - and _", cl.Name)
	case cl.Name != "" && cl.Addr == "":
		return fmt.Errorf("nats cluster %s: a cluster address (host:port for the routes) is required", cl.Name)
	case cl.Name != "" && c.ServerName == "":
		return fmt.Errorf("nats cluster %s: a server name, unique in the cluster, is required", cl.Name)
	}
	if cl.Addr != "" {
		if _, _, err := splitAddr(cl.Addr); err != nil {
			return fmt.Errorf("cluster: %w", err)
		}
	}
	if _, err := parseURLs(cl.Routes, "nats-route"); err != nil {
		return fmt.Errorf("nats routes: %w", err)
	}
	if c.Leaf.Listen != "" {
		if _, _, err := splitAddr(c.Leaf.Listen); err != nil {
			return fmt.Errorf("leaf listen: %w", err)
		}
	}
	if _, err := parseURLs(c.Leaf.Remotes, "nats-leaf", "nats", "tls"); err != nil {
		return fmt.Errorf("leaf remotes: %w", err)
	}
	if len(c.Leaf.Remotes) > 0 && c.JetStreamDomain == "" {
		return errors.New("a leaf node runs its own JetStream domain: give it one (unique among the hub's leaf nodes)")
	}
	if c.Leaf.Creds != "" {
		if _, err := os.Stat(c.Leaf.Creds); err != nil {
			return fmt.Errorf("leaf credentials: %w", err)
		}
	}
	return nil
}

// parseURLs parses raw, each an URL of one of schemes with a host and a
// port, and refuses one given twice.
func parseURLs(raw []string, schemes ...string) ([]*url.URL, error) {
	out := make([]*url.URL, 0, len(raw))
	seen := map[string]bool{}
	for _, r := range raw {
		u, err := url.Parse(strings.TrimSpace(r))
		if err != nil {
			return nil, fmt.Errorf("%q: %w", redactURL(r), err)
		}
		if !slices.Contains(schemes, u.Scheme) {
			return nil, fmt.Errorf("%q: want %s://host:port", redactURL(r), schemes[0])
		}
		if u.Hostname() == "" || u.Port() == "" {
			return nil, fmt.Errorf("%q: want %s://host:port", redactURL(r), schemes[0])
		}
		if seen[u.Host] {
			return nil, fmt.Errorf("%s given twice", u.Host)
		}
		seen[u.Host] = true
		out = append(out, u)
	}
	return out, nil
}

// redactURL is raw without a password, for an error message.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		if i := strings.LastIndex(raw, "@"); i >= 0 {
			return "***" + raw[i:]
		}
		return raw
	}
	return u.Redacted()
}

// applyCluster sets the cluster, leaf node and naming options of opts;
// dir is the credentials dir ("" without authentication).
func (c Config) applyCluster(opts *server.Options, dir string) error {
	if c.ServerName != "" {
		opts.ServerName = c.ServerName
	}
	opts.JetStreamDomain = c.JetStreamDomain
	if c.Cluster.Name != "" {
		if err := applyRoutes(opts, c.Cluster, dir); err != nil {
			return err
		}
	}
	if c.Leaf.Listen != "" {
		host, port, err := splitAddr(c.Leaf.Listen)
		if err != nil {
			return err
		}
		opts.LeafNode.Host, opts.LeafNode.Port = host, port
		if dir != "" {
			lc, err := loadOrCreateCreds(dir, LeafUser)
			if err != nil {
				return err
			}
			// A leaf node logs in to the global account, where the
			// stream is, with no limit: its hub sources from its stream
			// through the JetStream API of its domain.
			opts.LeafNode.Username, opts.LeafNode.Password = lc.User, lc.Password
		}
	}
	if len(c.Leaf.Remotes) > 0 {
		rem, err := leafRemote(c.Leaf)
		if err != nil {
			return err
		}
		opts.LeafNode.Remotes = []*server.RemoteLeafOpts{rem}
		if c.Leaf.ReconnectWait > 0 {
			opts.LeafNode.ReconnectInterval = c.Leaf.ReconnectWait
		}
	}
	return nil
}

// applyRoutes sets the cluster options; with authentication, routes log in
// with the RouteUser credentials of dir, which routes without a user in
// their URL present too.
func applyRoutes(opts *server.Options, cl ClusterConfig, dir string) error {
	host, port, err := splitAddr(cl.Addr)
	if err != nil {
		return err
	}
	opts.Cluster.Name, opts.Cluster.Host, opts.Cluster.Port = cl.Name, host, port
	var rc Creds
	if dir != "" {
		if rc, err = loadOrCreateCreds(dir, RouteUser); err != nil {
			return err
		}
		opts.Cluster.Username, opts.Cluster.Password = rc.User, rc.Password
	}
	routes, err := parseURLs(cl.Routes, "nats-route")
	if err != nil {
		return fmt.Errorf("nats routes: %w", err)
	}
	for _, u := range routes {
		if u.User == nil && dir != "" {
			u.User = url.UserPassword(rc.User, rc.Password)
		}
		opts.Routes = append(opts.Routes, u)
	}
	return nil
}

// leafRemote is the remote of a leaf node: the hub's URLs, logged in with
// lc.Creds, the events' subjects kept on this side (Isolate).
func leafRemote(lc LeafConfig) (*server.RemoteLeafOpts, error) {
	urls, err := parseURLs(lc.Remotes, "nats-leaf", "nats", "tls")
	if err != nil {
		return nil, fmt.Errorf("leaf remotes: %w", err)
	}
	rem := &server.RemoteLeafOpts{
		URLs:        urls,
		DenyImports: slices.Clone(lc.Isolate),
		DenyExports: slices.Clone(lc.Isolate),
	}
	if lc.Creds == "" {
		return rem, nil
	}
	b, err := os.ReadFile(lc.Creds)
	if err != nil {
		return nil, fmt.Errorf("leaf credentials: %w", err)
	}
	if bytes.Contains(b, []byte("BEGIN NATS USER JWT")) {
		rem.Credentials = lc.Creds
		return rem, nil
	}
	c, err := ReadCreds(lc.Creds)
	if err != nil {
		return nil, fmt.Errorf("leaf credentials: %w", err)
	}
	for _, u := range rem.URLs {
		u.User = url.UserPassword(c.User, c.Password)
	}
	return rem, nil
}

// LeafIsolate is what a leaf node of Track Skills keeps on its side of the
// link: the events' subjects.
var LeafIsolate = []string{trackskills.StreamSubjects}

// Name returns the server's name.
func (s *Server) Name() string { return s.ns.Name() }

// ClusterURL returns the nats-route:// URL where the other servers of its
// cluster connect, or "" outside a cluster.
func (s *Server) ClusterURL() string {
	a := s.ns.ClusterAddr()
	if a == nil {
		return ""
	}
	return "nats-route://" + a.String()
}

// Routes returns how many routes to other servers of the cluster are up.
func (s *Server) Routes() int { return s.ns.NumRoutes() }

// LeafNodes returns how many leaf node connections are up: at a hub, its
// leaf nodes; at a leaf node, its link to the hub.
func (s *Server) LeafNodes() int { return s.ns.NumLeafNodes() }

// IsStreamLeader reports whether this server leads stream of the global
// account in its cluster; outside a cluster it is false.
func (s *Server) IsStreamLeader(stream string) bool {
	return s.ns.JetStreamIsStreamLeader(server.DEFAULT_GLOBAL_ACCOUNT, stream)
}
