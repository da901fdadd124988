package ingest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"
	"github.com/trackskills/trackskills"
)

// KeyFile is the name of the hash key file inside the data dir.
const KeyFile = "hash.key"

// LoadOrCreateKey returns the identity hash key: envKey when set (64 hex
// characters or base64 of 32 bytes), else the key file in dataDir, created
// with 32 random bytes and mode 0600 on first start.
func LoadOrCreateKey(dataDir, envKey string) ([]byte, error) {
	if envKey != "" {
		return parseKey(envKey)
	}
	path := filepath.Join(dataDir, KeyFile)
	if b, err := os.ReadFile(path); err == nil {
		if len(b) != 32 {
			return nil, fmt.Errorf("hash key %s: has %d bytes, want 32", path, len(b))
		}
		return b, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read hash key: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("make hash key: %w", err)
	}
	// Write a temporary file (mode 0600), then link it into place: when two
	// processes of the Procfile start together, one links a complete key
	// and the other reads that one. (O_CREATE|O_EXCL on the key file itself
	// let the other read it empty, before the first had written it.)
	f, err := os.CreateTemp(dataDir, KeyFile+".tmp*")
	if err != nil {
		return nil, fmt.Errorf("create hash key: %w", err)
	}
	defer func() { _ = os.Remove(f.Name()) }() // linked into place, or not needed
	if _, err := f.Write(key); err != nil {
		_ = f.Close() // the write error is the one to report
		return nil, fmt.Errorf("write hash key: %w", err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close() // the sync error is the one to report
		return nil, fmt.Errorf("sync hash key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("close hash key: %w", err)
	}
	if err := os.Link(f.Name(), path); errors.Is(err, fs.ErrExist) {
		return LoadOrCreateKey(dataDir, "")
	} else if err != nil {
		return nil, fmt.Errorf("install hash key: %w", err)
	}
	return key, nil
}

func parseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if b, err := hex.DecodeString(s); err == nil && len(b) == 32 {
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == 32 {
			return b, nil
		}
	}
	return nil, errors.New("TRACKSKILLS_HASH_KEY must be 32 bytes as 64 hex characters or base64 (make one with: openssl rand -hex 32)")
}

// Hasher turns identities into keyed hashes: HMAC-SHA256, cut to 128 bits
// and hex-encoded. Without the key a hash cannot be reversed, even for a
// small space such as IPv4 addresses.
type Hasher struct{ pool sync.Pool }

// NewHasher returns a Hasher keyed with key.
func NewHasher(key []byte) *Hasher {
	k := append([]byte(nil), key...)
	return &Hasher{pool: sync.Pool{New: func() any { return hmac.New(sha256.New, k) }}}
}

// Hash returns the hash of an identity in the namespace kind ("u" for a
// user_id, "ip" for an IP and User-Agent, "s" for a session).
func (h *Hasher) Hash(kind string, parts ...string) string {
	m := h.pool.Get().(hash.Hash)
	m.Reset()
	m.Write([]byte(kind))
	for _, p := range parts {
		m.Write([]byte{0})
		m.Write([]byte(p))
	}
	var sum [sha256.Size]byte
	out := hex.EncodeToString(m.Sum(sum[:0])[:trackskills.IdentityHashLen/2])
	h.pool.Put(m)
	return out
}

// UserHash returns the hash of the identity of an event: its user_id when
// sent, else the client IP and User-Agent (the seed's fallback).
func (h *Hasher) UserHash(userID, ip, userAgent string) string {
	if userID != "" {
		return h.Hash("u", userID)
	}
	return h.Hash("ip", ip, userAgent)
}

// SessionHash returns the hash of a session id, or "" for none.
func (h *Hasher) SessionHash(sessionID string) string {
	if sessionID == "" {
		return ""
	}
	return h.Hash("s", sessionID)
}

// AgentHash returns the hash of a subagent's id, or "" for none.
func (h *Hasher) AgentHash(agentID string) string {
	if agentID == "" {
		return ""
	}
	return h.Hash("a", agentID)
}

// ParseCIDRs parses trusted proxy addresses: CIDRs or single IPs.
func ParseCIDRs(list []string) ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			ip := net.ParseIP(s)
			if ip == nil {
				return nil, fmt.Errorf("trusted proxy %q: not an IP or CIDR", s)
			}
			bits := 128
			if ip.To4() != nil {
				ip, bits = ip.To4(), 32
			}
			out = append(out, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
			continue
		}
		_, n, err := net.ParseCIDR(s)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: %w", s, err)
		}
		out = append(out, n)
	}
	return out, nil
}

// IPExtractor returns echo's client-IP function: the TCP peer, unless the
// peer is a trusted proxy; only then are X-Forwarded-For (its right-most
// untrusted hop), else X-Real-IP, else CF-Connecting-IP believed.
// X-Forwarded-For comes first because every common proxy appends to it, so
// a client cannot forge it past the proxy, while a proxy that does not set
// X-Real-IP passes a client's own X-Real-IP through. Addresses are
// normalised so that one client always hashes the same.
func IPExtractor(trusted []*net.IPNet) echo.IPExtractor {
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	xff := echo.ExtractIPFromXFFHeader(opts...)
	isTrusted := func(ip net.IP) bool {
		for _, n := range trusted {
			if n.Contains(ip) {
				return true
			}
		}
		return false
	}
	return func(r *http.Request) string {
		peer, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			peer = r.RemoteAddr
		}
		ip := net.ParseIP(peer)
		if ip == nil || len(trusted) == 0 || !isTrusted(ip) {
			return normIP(peer)
		}
		if r.Header.Get(echo.HeaderXForwardedFor) != "" {
			return normIP(xff(r))
		}
		for _, h := range []string{echo.HeaderXRealIP, "CF-Connecting-IP"} {
			if v := net.ParseIP(strings.TrimSpace(r.Header.Get(h))); v != nil {
				return v.String()
			}
		}
		return normIP(peer)
	}
}

// normIP returns the canonical form of an IP, or s when it is not one.
func normIP(s string) string {
	if ip := net.ParseIP(s); ip != nil {
		return ip.String()
	}
	return s
}
