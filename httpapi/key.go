package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// KeyAuth configures RequireKey.
type KeyAuth struct {
	// Keys are the accepted keys; empty means no key is needed.
	Keys []string
	// Message is the error of the 401 answer, naming the key it wants.
	Message string
	// AllowOptions lets OPTIONS requests through without a key, for CORS
	// preflights, which never carry one.
	AllowOptions bool
}

// RequireKey returns middleware that answers 401 with cfg.Message unless
// the request carries one of cfg.Keys, as "Authorization: Bearer <key>"
// (the scheme in any case) or as "X-Api-Key: <key>". Keys are compared in
// constant time through their SHA-256 sums, with every accepted key.
func RequireKey(cfg KeyAuth) echo.MiddlewareFunc {
	if len(cfg.Keys) == 0 {
		return func(next echo.HandlerFunc) echo.HandlerFunc { return next }
	}
	sums := make([][sha256.Size]byte, len(cfg.Keys))
	for i, k := range cfg.Keys {
		sums[i] = sha256.Sum256([]byte(k))
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if cfg.AllowOptions && r.Method == http.MethodOptions {
				return next(c)
			}
			key := r.Header.Get("X-Api-Key")
			// The auth scheme is case-insensitive (RFC 9110 §11.1).
			if auth := r.Header.Get(echo.HeaderAuthorization); len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
				key = auth[7:]
			}
			if key == "" || !validKey(sums, strings.TrimSpace(key)) {
				return echo.NewHTTPError(http.StatusUnauthorized, cfg.Message)
			}
			return next(c)
		}
	}
}

// validKey compares key with every sum, in time that depends on neither.
func validKey(sums [][sha256.Size]byte, key string) bool {
	sum := sha256.Sum256([]byte(key))
	match := 0
	for i := range sums {
		match |= subtle.ConstantTimeCompare(sum[:], sums[i][:])
	}
	return match == 1
}
