package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"
)

// KeyAuth configures RequireKey.
type KeyAuth struct {
	// Keys are the accepted keys; empty means no key is needed. Ring, when
	// set, takes their place.
	Keys []string
	// Ring holds keys that can be replaced while the server runs.
	Ring *KeyRing
	// Message is the error of the 401 answer, naming the key it wants.
	Message string
	// AllowOptions lets OPTIONS requests through without a key, for CORS
	// preflights, which never carry one.
	AllowOptions bool
}

// KeyRing is the set of keys a server accepts. Replace swaps them while
// the server runs (a key rotation), and with a rate limit every key has a
// limiter of its own, shared by every address that sends it: a leaked key
// used from many addresses gets no more than the key's rate.
type KeyRing struct {
	rate float64
	mu   sync.Mutex // serializes Replace
	cur  atomic.Pointer[keySet]
}

// keySet is one generation of a ring's keys.
type keySet struct {
	sums     [][sha256.Size]byte
	limiters []*rate.Limiter // nil without a rate limit
}

// NewKeyRing returns a ring of keys, each limited to perSecond requests
// per second (with a burst of one second's worth); 0 means no limit.
func NewKeyRing(keys []string, perSecond float64) *KeyRing {
	r := &KeyRing{rate: perSecond}
	r.store(keys)
	return r
}

// ErrNoKeys is Replace's error for an empty list of keys: a ring that
// holds keys never turns into one that needs none.
var ErrNoKeys = errors.New("no key given")

// Replace makes keys the accepted ones. A key that stays keeps its
// limiter, so a rotation never resets a key's rate. An empty list is
// ErrNoKeys, and the ring keeps its keys.
func (r *KeyRing) Replace(keys []string) error {
	if len(keys) == 0 {
		return fmt.Errorf("replace keys: %w; keeping the %d current ones", ErrNoKeys, r.Len())
	}
	r.store(keys)
	return nil
}

func (r *KeyRing) store(keys []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.cur.Load()
	ks := &keySet{sums: make([][sha256.Size]byte, 0, len(keys))}
	for _, k := range keys {
		sum := sha256.Sum256([]byte(k))
		if containsSum(ks.sums, sum) {
			continue
		}
		ks.sums = append(ks.sums, sum)
		if r.rate <= 0 {
			continue
		}
		var lim *rate.Limiter
		if old != nil {
			for i := range old.sums {
				if old.sums[i] == sum {
					lim = old.limiters[i]
				}
			}
		}
		if lim == nil {
			lim = rate.NewLimiter(rate.Limit(r.rate), int(r.rate)+1)
		}
		ks.limiters = append(ks.limiters, lim)
	}
	r.cur.Store(ks)
}

// Len returns the number of accepted keys.
func (r *KeyRing) Len() int { return len(r.cur.Load().sums) }

func containsSum(sums [][sha256.Size]byte, sum [sha256.Size]byte) bool {
	for i := range sums {
		if sums[i] == sum {
			return true
		}
	}
	return false
}

// RequireKey returns middleware that answers 401 with cfg.Message unless
// the request carries one of the keys, as "Authorization: Bearer <key>"
// (the scheme in any case) or as "X-Api-Key: <key>". Keys are compared in
// constant time through their SHA-256 sums, with every accepted key. With
// a ring, the keys are those of the ring when the request arrives, and a
// key over its rate gets a 429 with Retry-After.
func RequireKey(cfg KeyAuth) echo.MiddlewareFunc {
	ring := cfg.Ring
	if ring == nil {
		if len(cfg.Keys) == 0 {
			return func(next echo.HandlerFunc) echo.HandlerFunc { return next }
		}
		ring = NewKeyRing(cfg.Keys, 0)
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			ks := ring.cur.Load()
			if len(ks.sums) == 0 {
				return next(c)
			}
			r := c.Request()
			if cfg.AllowOptions && r.Method == http.MethodOptions {
				return next(c)
			}
			key := r.Header.Get("X-Api-Key")
			// The auth scheme is case-insensitive (RFC 9110 §11.1).
			if auth := r.Header.Get(echo.HeaderAuthorization); len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
				key = auth[7:]
			}
			i := -1
			if key != "" {
				i = matchKey(ks.sums, strings.TrimSpace(key))
			}
			if i < 0 {
				return echo.NewHTTPError(http.StatusUnauthorized, cfg.Message)
			}
			if ks.limiters != nil && !ks.limiters[i].Allow() {
				c.Response().Header().Set("Retry-After", "1")
				return echo.NewHTTPError(http.StatusTooManyRequests, "this key is over its rate limit; retry after 1 second")
			}
			return next(c)
		}
	}
}

// matchKey returns the index of the sum that matches key, or -1, comparing
// key with every sum, in time that depends on neither.
func matchKey(sums [][sha256.Size]byte, key string) int {
	sum := sha256.Sum256([]byte(key))
	found := -1
	for i := range sums {
		found = subtle.ConstantTimeSelect(subtle.ConstantTimeCompare(sum[:], sums[i][:]), i, found)
	}
	return found
}
