package httpapi

import (
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"
)

// LoopbackNames are the host names of this machine's loopback interface,
// which a server bound to loopback always answers to.
var LoopbackNames = []string{"localhost", "127.0.0.1", "::1"}

// HostAuth configures RequireHost.
type HostAuth struct {
	// Names are the host names a request may give in its Host header, in
	// any case and with any port (see HostName); empty turns the check
	// off.
	Names []string
	// Hint ends the 403 answer: what to set to add a name.
	Hint string
}

// maxHostInMessage bounds how much of a refused Host header a 403 repeats.
const maxHostInMessage = 100

// RequireHost returns middleware that answers 403 to a request whose Host
// header names none of cfg.Names. A server bound to loopback uses it
// against DNS rebinding: a page of another site whose name an attacker
// points at 127.0.0.1 reaches the server with that name as its Host, which
// the check refuses, so the page cannot read the answer. A request with no
// Host at all (HTTP/1.0) comes from no browser and passes.
func RequireHost(cfg HostAuth) echo.MiddlewareFunc {
	if len(cfg.Names) == 0 {
		return func(next echo.HandlerFunc) echo.HandlerFunc { return next }
	}
	names := make([]string, 0, len(cfg.Names))
	for _, n := range cfg.Names {
		if h, err := HostName(n); err == nil {
			names = append(names, h)
		}
	}
	list := strings.Join(names, ", ")
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			host := c.Request().Host
			if host == "" {
				return next(c)
			}
			if h, ok := hostName(host); ok && slices.Contains(names, h) {
				return next(c)
			}
			if len(host) > maxHostInMessage {
				host = host[:maxHostInMessage] + "..."
			}
			msg := fmt.Sprintf("host %q is not one this server answers to (%s)", host, list)
			if cfg.Hint != "" {
				msg += ": " + cfg.Hint
			}
			return echo.NewHTTPError(http.StatusForbidden, msg)
		}
	}
}

// HostName returns the host name of a Host header or of a configured name
// ("Example.COM:8443", "[::1]:8080", "localhost."): lower case, without
// its port, brackets or final dot. It refuses what is no host name, such
// as a URL.
func HostName(s string) (string, error) {
	h, ok := hostName(s)
	if !ok {
		return "", fmt.Errorf("%q is not a host name: give a name such as dash.example.com, without a scheme or a path", s)
	}
	return h, nil
}

// hostName is HostName without the error, for the path of every request.
func hostName(s string) (string, bool) {
	h := strings.TrimSpace(s)
	if host, port, err := net.SplitHostPort(h); err == nil {
		if strings.Trim(port, "0123456789") != "" {
			return "", false
		}
		h = host
	} else {
		h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	}
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	if h == "" || strings.ContainsAny(h, "/@?#[] \t") || (strings.Contains(h, ":") && net.ParseIP(h) == nil) {
		return "", false
	}
	return h, true
}

// RefuseCrossOrigin returns middleware that answers 403 with message to a
// request that a browser sends from a page of another origin with an
// unsafe method (a POST): the Sec-Fetch-Site header says so, or, from an
// older browser, the Origin header names another host than the request's.
// Requests without those headers (curl, the hooks, the Go client) and
// same-origin ones pass, as do GET, HEAD and OPTIONS. A server with no key
// uses it: a page on any site could otherwise write to it with a simple
// POST, which needs no CORS preflight.
func RefuseCrossOrigin(message string) echo.MiddlewareFunc {
	cop := http.NewCrossOriginProtection()
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := cop.Check(c.Request()); err != nil {
				return echo.NewHTTPError(http.StatusForbidden, message)
			}
			return next(c)
		}
	}
}
